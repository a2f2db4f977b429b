#!/usr/bin/env python3
"""Cross-framework check, PyTorch side: four reference networks exported with an input and their logits.

Run by the doctest suite tests/cpu/test_crossframework.cpp as

    .venv/bin/python tests/python/export_crossframework.py OUTDIR [--size S] [--batch N] [--classes C]

For each model below, OUTDIR/<model>.safetensors holds
  - the whole state_dict under the model's own names, in PyTorch's layout (conv OIHW, linear
    [out, in]; BatchNorm's num_batches_tracked as I64), for skinnet's name maps and
    io::torch_to_skinnet_layout;
  - "test.input":  float32 [N, S, S, 3], NHWC as skinnet takes it (PyTorch ran on its NCHW transpose);
  - "test.logits": float32 [N, C], what the model returns for that input in eval mode;
  - metadata: the model, the framework versions and the BatchNorm eps the model uses.

  model            definition                                    parameter names
  resnet50         torchvision.models.resnet50                   torchvision == timm
  efficientnet_b0  torchvision.models.efficientnet_b0            torchvision (features.N...), mapped
                                                                 by io::torchvision_efficientnet_names
  seresnet50       SEResNetBottleneck below: torchvision's        timm seresnet50
                   Bottleneck + timm's SEModule after bn3
  xception         Xception below: Keras applications' network   timm legacy_xception
                   written with timm's module names

Every model is randomly initialised (weights=None: nothing is downloaded) from a seeded generator, and
every BatchNorm gets random affine parameters and running statistics: freshly built, a BatchNorm in eval
mode is the identity (mean 0, var 1, gamma 1, beta 0) and would hide a wrong eps, a wrong statistics
name or a transposed vector.

Exit status 0 on success, 77 when torch, torchvision or safetensors cannot be imported (the C++ test
then reports itself skipped), 2 on bad arguments.
"""
import argparse
import os
import sys

try:
    import torch
    import torch.nn as nn
    import torchvision
    from safetensors.torch import save_file
    from torchvision.models.resnet import Bottleneck, ResNet
except ImportError as e:
    print(f"export_crossframework: {e}; run scripts/python-venv.sh (and install python3-torchvision)",
          file=sys.stderr)
    sys.exit(77)


# ---------------------------------------------------------------------------------------- SE-ResNet-50
def make_divisible(v, divisor=8):
    """timm's rounding of the SE width (SEModule uses round_limit 0: plain nearest multiple)."""
    return max(divisor, int(v + divisor / 2) // divisor * divisor)


class SEModule(nn.Module):
    """timm SEModule: mean over H, W -> 1x1 conv fc1 (bias) -> ReLU -> 1x1 conv fc2 (bias) -> sigmoid gate."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        reduced = make_divisible(channels / reduction)
        self.fc1 = nn.Conv2d(channels, reduced, 1, bias=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1, bias=True)

    def forward(self, x):
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class SEResNetBottleneck(Bottleneck):
    """torchvision's Bottleneck (stride on the 3x3) with SE on the branch, after bn3, before the sum."""

    def __init__(self, inplanes, planes, *args, **kwargs):
        super().__init__(inplanes, planes, *args, **kwargs)
        self.se = SEModule(planes * self.expansion)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def seresnet50(num_classes):
    return ResNet(SEResNetBottleneck, [3, 4, 6, 3], num_classes=num_classes)


# ---------------------------------------------------------------------------------------- Xception
KERAS_BN_EPS = 1e-3  # Keras BatchNormalization's default epsilon


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 ("conv1", groups = channels) then pointwise 1x1, no bias (timm's names)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.conv1(x))


class XceptionBlock(nn.Module):
    """timm legacy_xception Block: rep = [ReLU] sep BN (ReLU sep BN)... [MaxPool 3/s pad 1];
    skip/skipbn = strided 1x1 conv + BN when the shape changes, else the identity."""

    def __init__(self, cin, cout, reps, stride, start_with_relu, grow_first):
        super().__init__()
        if cout != cin or stride != 1:
            self.skip = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.skipbn = nn.BatchNorm2d(cout, eps=KERAS_BN_EPS)
        else:
            self.skip = None
        layers = []
        for r in range(reps):
            if grow_first:
                a, b = (cin if r == 0 else cout), cout
            else:
                a, b = cin, (cout if r == reps - 1 else cin)
            if r > 0 or start_with_relu:
                layers.append(nn.ReLU(inplace=False))  # the skip path still needs the un-ReLU'd input
            layers += [SeparableConv2d(a, b), nn.BatchNorm2d(b, eps=KERAS_BN_EPS)]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x):
        shortcut = x if self.skip is None else self.skipbn(self.skip(x))
        return self.rep(x) + shortcut


class Xception(nn.Module):
    """Keras applications' Xception (entry 32/64 valid convs, blocks 128/256/728, 8 middle blocks,
    exit 728->1024, separable 1536 and 2048) with timm legacy_xception's module names."""

    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, stride=2, bias=False)  # 'valid'
        self.bn1 = nn.BatchNorm2d(32, eps=KERAS_BN_EPS)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)  # 'valid'
        self.bn2 = nn.BatchNorm2d(64, eps=KERAS_BN_EPS)
        self.block1 = XceptionBlock(64, 128, 2, 2, start_with_relu=False, grow_first=True)
        self.block2 = XceptionBlock(128, 256, 2, 2, True, True)
        self.block3 = XceptionBlock(256, 728, 2, 2, True, True)
        for b in range(4, 12):
            setattr(self, f"block{b}", XceptionBlock(728, 728, 3, 1, True, True))
        self.block12 = XceptionBlock(728, 1024, 2, 2, True, grow_first=False)
        self.conv3 = SeparableConv2d(1024, 1536)
        self.bn3 = nn.BatchNorm2d(1536, eps=KERAS_BN_EPS)
        self.conv4 = SeparableConv2d(1536, 2048)
        self.bn4 = nn.BatchNorm2d(2048, eps=KERAS_BN_EPS)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        for b in range(1, 13):
            x = getattr(self, f"block{b}")(x)
        x = torch.relu(self.bn3(self.conv3(x)))
        x = torch.relu(self.bn4(self.conv4(x)))
        return self.fc(x.mean(dim=(2, 3)))


# ---------------------------------------------------------------------------------------- export
MODELS = {
    "resnet50": lambda c: torchvision.models.resnet50(weights=None, num_classes=c),
    "efficientnet_b0": lambda c: torchvision.models.efficientnet_b0(weights=None, num_classes=c),
    "seresnet50": seresnet50,
    "xception": Xception,
}


def randomise_batchnorm(model, gen):
    """Random gamma, beta, running mean and variance, so that eval-mode BN is not the identity."""
    eps = set()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                eps.add(m.eps)
    if len(eps) != 1:
        raise SystemExit(f"export_crossframework: mixed BatchNorm eps {sorted(eps)}")
    return eps.pop()


def export(name, outdir, size, batch, classes, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    model = MODELS[name](classes)
    eps = randomise_batchnorm(model, gen)
    model.eval()
    x = torch.randn(batch, 3, size, size, generator=gen)
    with torch.no_grad():
        logits = model(x)
    tensors = {k: t.detach().contiguous().clone() for k, t in model.state_dict().items()}
    tensors["test.input"] = x.permute(0, 2, 3, 1).contiguous()
    tensors["test.logits"] = logits.contiguous()
    metadata = {
        "source": "tests/python/export_crossframework.py",
        "model": name,
        "bn_eps": repr(eps),
        "input_size": str(size),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
    }
    path = os.path.join(outdir, f"{name}.safetensors")
    save_file(tensors, path, metadata=metadata)
    print(f"export_crossframework: {name}: {len(tensors)} tensors, bn eps {eps}, logits "
          f"|max| {logits.abs().max().item():.4g} -> {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    args = ap.parse_args()
    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in MODELS:
            ap.error(f"unknown model {n!r}; known: {', '.join(MODELS)}")
    os.makedirs(args.outdir, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    for n in names:
        export(n, args.outdir, args.size, args.batch, args.classes, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
