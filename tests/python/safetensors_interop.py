#!/usr/bin/env python3
"""Interop between skinnet's safetensors code and Python's reference implementation.

Run by the doctest "Python's safetensors reads skinnet files and skinnet reads Python's"
(tests/cpu/test_safetensors.cpp) as

    .venv/bin/python tests/python/safetensors_interop.py FROM_SKINNET OUT

1. reads FROM_SKINNET, written by skinnet, with `safetensors` and checks every name, dtype, shape,
   value and metadata string against values computed here independently;
2. writes OUT with `safetensors` (F32, F64, F16, I64 through numpy; BF16 through torch when torch is
   importable) for the C++ side to check.

Exit status: 0 when everything matched, 1 on a mismatch (with a message), 77 when the `safetensors`
package is missing, so the C++ test reports itself skipped rather than passed.
"""
import sys

try:
    import numpy as np
    from safetensors import safe_open
    import safetensors.numpy
except ImportError as e:  # no venv, or a venv without the pinned packages
    print(f"safetensors_interop: {e}; run scripts/python-venv.sh", file=sys.stderr)
    sys.exit(77)


def interop_value(i):
    """Same formula as interop_value() in the C++ test; exact in float32 for the indices used."""
    i = np.asarray(i, dtype=np.int64)
    return (i % 17 - 8) / 4.0 + i / 1024.0


def fail(message):
    print(f"safetensors_interop: MISMATCH: {message}", file=sys.stderr)
    sys.exit(1)


def check_skinnet_file(path):
    expected = {
        "conv.weight": ("float32", (3, 3, 4, 8), interop_value(np.arange(3 * 3 * 4 * 8)).reshape(3, 3, 4, 8)),
        "conv.bias": ("float32", (8,), interop_value(np.arange(1000, 1008))),
        "optim.step": ("int64", (), np.array(987654321012, dtype=np.int64)),
    }
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
        want_meta = {"architecture": "tiny", "class_names": '["mel","nv"]', "note": "\u00e9t\u00e9"}
        if meta != want_meta:
            fail(f"metadata {meta!r} != {want_meta!r}")
        if sorted(f.keys()) != sorted(expected):
            fail(f"tensor names {sorted(f.keys())} != {sorted(expected)}")
        for name, (dtype, shape, values) in expected.items():
            t = f.get_tensor(name)
            if str(t.dtype) != dtype or t.shape != shape:
                fail(f"{name}: {t.dtype} {t.shape}, expected {dtype} {shape}")
            if not np.array_equal(t, values.astype(dtype)):
                fail(f"{name}: values differ, first {t.ravel()[:4]} vs {values.ravel()[:4]}")
    # The whole-file loader agrees.
    loaded = safetensors.numpy.load_file(path)
    if set(loaded) != set(expected):
        fail("load_file sees other tensors than safe_open")


def write_python_file(path):
    arrays = {
        "f32": interop_value(np.arange(30)).astype(np.float32).reshape(2, 3, 5),
        "f64": interop_value(np.arange(100, 107)).astype(np.float64),
        "f16": interop_value(np.arange(9)).astype(np.float16),
        "i64": np.array([-1, 0, 1 << 50], dtype=np.int64),
    }
    metadata = {"written_by": "safetensors"}
    try:
        import torch
        from safetensors.torch import save_file as save_torch_file
    except ImportError as e:  # numpy has no bfloat16: without torch, BF16 goes unchecked (the C++ side says so)
        print(f"safetensors_interop: {e}; writing no BF16 tensor")
        safetensors.numpy.save_file(arrays, path, metadata=metadata)
        return
    tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
    tensors["bf16"] = torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16)
    save_torch_file(tensors, path, metadata=metadata)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    check_skinnet_file(argv[1])
    write_python_file(argv[2])
    print("safetensors_interop: skinnet file verified, Python file written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
