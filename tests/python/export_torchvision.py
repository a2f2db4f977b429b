#!/usr/bin/env python3
"""Export a torchvision model (random initialisation, eval mode) to safetensors, with a test input
and the logits PyTorch computes for it, so skinnet can be checked name for name and output for output.

    .venv/bin/python tests/python/export_torchvision.py MODEL OUT [--size S] [--seed N] [--classes C]

MODEL is a torchvision.models builder (resnet50, efficientnet_b0, ...). OUT holds:
  - every state_dict entry under its torchvision name, in PyTorch's layout (conv OIHW, linear
    [out, in]; BatchNorm's num_batches_tracked as I64), for skinnet's io::torchvision_*_names() and
    io::torch_to_skinnet_layout;
  - "test.input": float32 [1, S, S, 3], NHWC as skinnet takes it (PyTorch ran its NCHW transpose);
  - "test.logits": float32 [1, C], the model's output for that input in eval mode;
  - metadata: source, model, input_size, torch and torchvision versions.
No weights are downloaded: the model is built with weights=None from a seeded generator.

Exit status 0 on success, 77 when torch, torchvision or safetensors cannot be imported (the C++ test
then reports itself skipped), 2 on bad arguments.
"""
import argparse
import sys

try:
    import torch
    import torchvision
    from safetensors.torch import save_file
except ImportError as e:
    print(f"export_torchvision: {e}; run scripts/python-venv.sh (and install python3-torchvision)", file=sys.stderr)
    sys.exit(77)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", type=int, default=1000)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    builder = getattr(torchvision.models, args.model, None)
    if builder is None:
        ap.error(f"torchvision.models has no {args.model}")
    model = builder(weights=None, num_classes=args.classes).eval()
    x = torch.randn(1, 3, args.size, args.size)
    with torch.no_grad():
        logits = model(x)

    tensors = {name: t.detach().contiguous().clone() for name, t in model.state_dict().items()}
    tensors["test.input"] = x.permute(0, 2, 3, 1).contiguous()
    tensors["test.logits"] = logits.contiguous()
    metadata = {
        "source": "torchvision",
        "model": args.model,
        "input_size": str(args.size),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
    }
    save_file(tensors, args.out, metadata=metadata)
    print(f"export_torchvision: {args.model}: {len(tensors)} tensors -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
