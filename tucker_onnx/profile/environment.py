"""The environment block every report carries: device, driver, ORT / CUDA / cuDNN versions, provider options."""
from __future__ import annotations

import platform
import subprocess


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
    return f"{provider}|{e.get('device')}|{e.get('driver', '')}|ort {e['onnxruntime']}"
