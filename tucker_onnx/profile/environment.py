"""The environment block every report carries: device, driver, ORT / CUDA / cuDNN versions, provider options."""
from __future__ import annotations

import os
import platform
import subprocess


def tf32_mode() -> bool:
    """TuckerConv's TF32 mode for fp32 models (TUCKER_ONNX_TF32=1, not overridden by NVIDIA_TF32_OVERRIDE=0): its
    latencies and accuracy differ from the default fp32-accurate kernels, so reports and latency caches say which."""
    return os.environ.get("TUCKER_ONNX_TF32") == "1" and os.environ.get("NVIDIA_TF32_OVERRIDE") != "0"


def wgmma_mode() -> bool:
    """Whether TuckerConv's channels-last staged kernels run Hopper wgmma (on unless TUCKER_ONNX_WGMMA=0, the benchmarks'
    A/B switch; cards without sm_90a code run WMMA either way): a latency cache keys it."""
    return os.environ.get("TUCKER_ONNX_WGMMA") != "0"


# Run-time switches of TuckerConv's CUDA kernels that force a choice the op otherwise makes per type (A/B switches of
# the benchmarks): variable -> (latency-cache key, {value: what it forces}, the default). Each changes CUDA latencies,
# so a latency cache keys a forced value and report headers say which applied.
KERNEL_SWITCHES = {
    "TUCKER_ONNX_WG_BM32": ("wgbm32", {"1": "fp16 and fp32", "0": "off"}, "fp16"),
    "TUCKER_ONNX_SWAP32": ("swap32", {"1": "fp16 and fp32", "2": "fp16 and fp32, fp32 pre-split", "0": "off"},
                           "fp32"),
    "TUCKER_ONNX_GRID_STAGE": ("gridstage", {"0": "off"}, "fp32 3x3 cores where a task fits"),
}


def switch_override(var: str) -> str | None:
    """The value of a KERNEL_SWITCHES variable where it forces something; None: the op's default."""
    v = os.environ.get(var)
    return v if v in KERNEL_SWITCHES[var][1] else None


def switch_description(var: str) -> str:
    """Which types a kernel switch applies to, for report headers."""
    v = switch_override(var)
    _, forced, default = KERNEL_SWITCHES[var]
    return f"{default} (default)" if v is None else f"{forced[v]} ({var}={v})"


def switch_report_key(var: str) -> str:
    """The report-header key's suffix of a KERNEL_SWITCHES variable (TUCKER_ONNX_WG_BM32 -> wg_bm32)."""
    return var.removeprefix("TUCKER_ONNX_").lower()


def describe(provider: str, provider_options: dict | None = None) -> dict:
    import onnxruntime as ort
    env = {"provider": provider, "onnxruntime": ort.__version__, "python": platform.python_version(),
           "provider_options": provider_options or {}}
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    env["cpu"] = cpu
    if provider == "cuda":
        try:
            q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
            env["device"], env["driver"] = [s.strip() for s in q.split(",")]
        except Exception:
            env["device"] = "unknown GPU"
        env["tucker_conv_fp32"] = ("TF32 (TUCKER_ONNX_TF32=1)" if tf32_mode() else
                                   "fp32-accurate (FFMA or 3xTF32; TUCKER_ONNX_TF32=1 for TF32)")
        env["tucker_conv_wgmma"] = ("on where the card has sm_90a code" if wgmma_mode() else
                                    "off (TUCKER_ONNX_WGMMA=0)")
        for var in KERNEL_SWITCHES:
            env[f"tucker_conv_{switch_report_key(var)}"] = switch_description(var)
        try:
            import torch
            env["cuda"] = torch.version.cuda
            env["cudnn"] = torch.backends.cudnn.version()
        except Exception:
            pass
    else:
        env["device"] = cpu
    return env


def device_signature(provider: str) -> str:
    """What a latency cache entry is valid for."""
    e = describe(provider)
    sig = f"{provider}|{e.get('device')}|{e.get('driver', '')}|ort {e['onnxruntime']}"
    if provider == "cuda":
        sig += "|tf32" if tf32_mode() else ""
        sig += "" if wgmma_mode() else "|nowgmma"
        for var, (key, _, _) in KERNEL_SWITCHES.items():
            sig += f"|{key}={switch_override(var)}" if switch_override(var) else ""
    return sig
