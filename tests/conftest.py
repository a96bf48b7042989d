import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def _cuda_reason() -> str | None:
    """Why CUDA tests cannot run here, or None when they can."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime not installed"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA execution provider"
    try:
        from cuda.bindings import runtime as cudart
        err, n = cudart.cudaGetDeviceCount()
        if int(err) != 0 or n == 0:
            return "no CUDA device visible"
    except Exception as e:  # cuda-python missing or no driver
        return f"no usable CUDA driver ({type(e).__name__})"
    return None


CUDA_SKIP = _cuda_reason()


def pytest_collection_modifyitems(config, items):
    if CUDA_SKIP is None:
        return
    mark = pytest.mark.skip(reason=f"CUDA test skipped: {CUDA_SKIP}")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(mark)


@pytest.fixture(scope="session")
def library():
    from tucker_onnx import get_library_path
    return get_library_path()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def model_eval(tmp_path_factory):
    """tools/model_eval.cu with the library's model and kernels' host code, built once per test run: one build takes
    3-9 minutes (all kernel sources through nvcc), and tests/test_perf_model.py and tests/test_tune.py each built
    their own. Skips where nvcc is missing."""
    import shutil
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not found: the model tools are built with it")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import fit_model
    prebuilt = os.environ.get("TUCKER_ONNX_MODEL_EVAL")  # a developer's build of the same sources (faster to iterate)
    if prebuilt:
        return Path(prebuilt)
    return fit_model.build(tmp_path_factory.mktemp("model_eval") / "model_eval")
