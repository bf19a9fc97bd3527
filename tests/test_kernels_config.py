"""The kernels' shared compiler options (fastbp.kernels.config)."""
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from fastbp.kernels import activations, dense, dense_parallel, epoch, fused, losses, optimizers
from fastbp.kernels.config import BORROWING_OPTIONS
from fastbp.kernels.views import view

# The entry kernels and every kernel a training step calls per layer (entered several times per step).
BORROWING_KERNELS = [epoch.train_epochs, epoch.train_epochs_blocks, epoch.train_epochs_rows, epoch.evaluate,
                     activations.activate, activations.scale_by_derivative, dense.matmul, dense.dense_forward,
                     dense.hidden_delta, dense.weight_gradient, dense.backward_rows, dense.backward_update,
                     dense_parallel._forward_block, dense_parallel.dense_forward_parallel,
                     dense_parallel.backward_update_parallel,
                     fused.dense_forward_rows, fused._update_block, fused._update_parallel, fused.backward_update_rows,
                     fused.dense_forward_rows_in_blocks,
                     losses.output_delta, losses.weighted_output_delta,
                     optimizers.update_row, optimizers.apply_update]


@pytest.mark.parametrize("kernel", BORROWING_KERNELS, ids=lambda kernel: kernel.__name__)
def test_hot_path_kernels_compile_without_reference_counting(kernel):
    assert kernel.targetoptions["_nrt"] is False


def _borrowing_product(A, B, out):
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = 0.0
            for p in range(A.shape[1]):
                out[i, j] += A[i, p] * B[p, j]


def test_borrowing_options_leave_no_runtime_calls_and_compute_the_same():
    # A function taking views, as the kernels do: with Numba's runtime each array argument was an NRT_incref
    # call on entry and an NRT_decref on exit (98 calls per digits step at batch 1).
    options = dict(BORROWING_OPTIONS, cache=False)
    product = njit(**options)(_borrowing_product)

    @njit(**options)
    def caller(buffer, B, out):
        product(view(buffer, 0, 4, 3), B, out)

    buffer, B = np.arange(12.0), np.arange(6.0).reshape(3, 2)
    out = np.empty((4, 2))
    caller(buffer, B, out)
    np.testing.assert_array_equal(out, buffer.reshape(4, 3) @ B)
    for function in (product, caller):
        llvm = function.inspect_llvm(function.signatures[0])
        assert "NRT_incref" not in llvm and "NRT_decref" not in llvm


def _fresh_process(code):
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()


def test_importing_a_kernel_module_chooses_the_thread_pools_layer_before_anything_launches():
    """A parallel kernel called straight from fastbp.kernels (as the tests and asv do) runs on TBB too, not on
    whichever layer Numba would find first (GNU OpenMP, which aborts a forked child)."""
    layer, parallel = _fresh_process("import numba\nfrom fastbp.kernels import fused\nfrom fastbp.kernels.config "
                                     "import PARALLEL_KERNELS\nprint(numba.config.THREADING_LAYER, PARALLEL_KERNELS)")
    assert layer == ("tbb" if parallel == "True" else "workqueue")


def test_the_codes_and_the_package_load_no_compiler():
    loaded = _fresh_process("import sys\nfrom fastbp.kernels import codes\n"
                            "print('numba' in sys.modules, 'llvmlite' in sys.modules)")
    assert loaded == ["False", "False"]
