#!/usr/bin/python3
"""
ONNX agreement fixtures, produced by PyTorch (Debian's python3-torch / python3-torchvision; a build script, never a
runtime dependency). For each model it writes, into OUT:
  <name>.onnx           the model, exported by torch.onnx.export in eval mode
  <name>.input.npy      a fixed input, float32 NCHW [1, C, H, W]
  <name>.output.npy     PyTorch's output on it
  <name>.<layer>.npy    PyTorch's activation after some modules (NCHW), named by module path
  <name>.json           {opset, inputShape, intermediates: {layer: file}, params}
Random weights (seeded), nothing downloaded. Usage:
  build/onnx-fixtures.py small OUT        # small custom nets (committed under tests/fixtures/onnx)
  build/onnx-fixtures.py operators OUT    # only the less common operators' net (one of the small ones)
  build/onnx-fixtures.py torchvision OUT  # AlexNet, VGG-11, ResNet-18, SqueezeNet 1.1, MobileNet V2 (big; generated)
  build/onnx-fixtures.py broken OUT       # broken / unsupported files for the error manifest
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def seeded_init(model, seed):
    """Weights drawn with a fixed seed, BatchNorm statistics made non-trivial so folding/normalisation is tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


def export(model, name, out, input_shape, opset, intermediates, seed=0, **kwargs):
    model.eval()
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.rand(input_shape, generator=g)
    recorded = {}
    hooks = []
    modules = dict(model.named_modules())
    for point in intermediates:
        # A module path, or (module path, the app's layer name for that module's output).
        module, layer = (point, point) if isinstance(point, str) else point
        def hook(_m, _i, o, layer=layer):
            recorded[layer] = o.detach().clone().numpy()  # clone: in-place ReLUs change it afterwards
        hooks.append(modules[module].register_forward_hook(hook))
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    onnx_path = os.path.join(out, f'{name}.onnx')
    torch.onnx.export(model, x, onnx_path, opset_version=opset, input_names=['input'], output_names=['output'],
                      do_constant_folding=True, **kwargs)
    np.save(os.path.join(out, f'{name}.input.npy'), x.numpy().astype(np.float32))
    np.save(os.path.join(out, f'{name}.output.npy'), y.numpy().astype(np.float32))
    files = {}
    for path, value in recorded.items():
        files[path] = f'{name}.{path}.npy'
        np.save(os.path.join(out, files[path]), value.astype(np.float32))
    meta = {'opset': opset, 'inputShape': list(input_shape), 'intermediates': files,
            'params': sum(p.numel() for p in model.parameters())}
    with open(os.path.join(out, f'{name}.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'{name}: {os.path.getsize(onnx_path)} bytes, opset {opset}', file=sys.stderr)


class OnnxLrn(torch.autograd.Function):
    """PyTorch exports LocalResponseNorm as a sub-graph (Pow, If, Slice...); models from Caffe2 and the ONNX model
    zoo carry the ONNX LRN operator itself. This exports it as that operator, with PyTorch's numbers."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op('LRN', x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class Lrn(nn.LocalResponseNorm):
    def forward(self, x):
        return OnnxLrn.apply(x, self.size, self.alpha, self.beta, self.k)


class CnnOps(nn.Module):
    """One of nearly every operator a CNN classifier uses, at sizes that exercise every padding path."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)                       # TF-SAME-equivalent
        self.relu1 = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(8)                                     # after a ReLU: not folded
        self.pool1 = nn.MaxPool2d(3, 2, padding=1)                       # pads (1,1): not TF SAME → −∞ padding
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2)                       # valid, stride 2
        self.leaky = nn.LeakyReLU(0.1)
        self.lrn = Lrn(5, alpha=1e-2, beta=0.75, k=2.0)
        self.dw = nn.Conv2d(16, 32, 3, padding=1, groups=16)             # depthwise, multiplier 2
        self.relu6 = nn.ReLU6()
        self.gconv = nn.Conv2d(32, 24, 3, padding=2, dilation=2, groups=4)  # grouped + dilated
        self.avg = nn.AvgPool2d(3, stride=1, padding=1)                  # count_include_pad=True
        self.pool2 = nn.MaxPool2d(2, 2, ceil_mode=True)                  # 7 → 4 with a partial window
        self.fc1 = nn.Linear(24 * 4 * 4, 32)                             # rows permuted CHW ↔ HWC
        self.tanh = nn.Tanh()
        self.fc2 = nn.Linear(32, 10)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.pool1(self.bn1(self.relu1(self.conv1(x))))
        x = self.lrn(self.leaky(self.conv2(x)))
        x = self.gconv(self.relu6(self.dw(x)))
        x = self.pool2(self.avg(x))
        x = torch.flatten(x, 1)
        return self.softmax(self.fc2(self.tanh(self.fc1(x))))


class ResidualConcat(nn.Module):
    """Branches, concatenation, a residual add, baked-in input normalisation, a view-style flatten."""

    def __init__(self):
        super().__init__()
        self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.stem = nn.Conv2d(3, 16, 5, stride=2, padding=2, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)                                 # folded into the conv on export
        self.relu = nn.ReLU()
        self.branch1 = nn.Conv2d(16, 8, 1)
        self.branch3 = nn.Conv2d(16, 8, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.head_relu = nn.ReLU()
        self.fc = nn.Linear(16 * 6 * 6, 7)
        self.sig = nn.Sigmoid()

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.relu(self.stem_bn(self.stem(x)))
        y = torch.cat([self.branch1(x), self.branch3(x)], dim=1)
        x = self.pool(F.relu(y) + x)
        x = x.view(x.size(0), -1)
        x = self.head_relu(x)                   # the flattened vector goes through a ReLU before the dense layer
        return self.sig(self.fc(x))


class Legacy(nn.Module):
    """Exported at opset 9: Clip and Pad with attributes, a bias-free MatMul and a separate Add, global pooling."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)
        self.relu6 = nn.ReLU6()
        self.conv2 = nn.Conv2d(6, 12, 3, stride=2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.w = nn.Parameter(torch.randn(12, 5) * 0.3)
        self.b = nn.Parameter(torch.randn(5) * 0.1)

    def forward(self, x):
        x = self.relu6(self.conv(F.pad(x, (1, 2, 2, 1))))
        x = self.gap(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return torch.matmul(x, self.w) + self.b


class LessCommonOps(nn.Module):
    """The operators real exports use now and then: reflect/edge padding, PReLU, a dilated max pool, Hardtanh
    (Clip with both bounds), ELU with its own alpha, picking channels, an average pool in ceil mode that does not
    count padding, a transposed convolution, a map times a matrix, SELU, a spatial mean in place of a global pool, log-softmax at the end."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.prelu = nn.PReLU(8)
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1, dilation=2)
        self.clip = nn.Hardtanh(-0.5, 0.5)
        self.elu = nn.ELU(alpha=0.5)
        self.pool2 = nn.AvgPool2d(2, stride=2, ceil_mode=True, count_include_pad=False)
        self.up = nn.ConvTranspose2d(5, 5, 3, stride=2, padding=1, output_padding=1)
        self.m = nn.Parameter(torch.randn(12, 12) * 0.3)
        self.conv2 = nn.Conv2d(5, 6, 1)
        self.selu = nn.SELU()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = self.prelu(self.conv1(F.pad(x, (2, 2, 2, 2), mode='reflect')))
        x = self.pool1(F.pad(x, (1, 0, 1, 0), mode='replicate'))
        x = self.elu(self.clip(x))
        x = self.up(self.pool2(x[:, [0, 2, 4, 6, 1]]))
        x = self.selu(self.conv2(torch.matmul(x, self.m)))
        return F.log_softmax(self.fc(x.mean([2, 3])), dim=1)


def operators(out):
    torch.manual_seed(3)
    export(seeded_init(LessCommonOps(), 4), 'less-common-ops', out, (1, 3, 20, 20), 17, ['prelu', 'pool1', 'pool2', 'up', 'selu'], seed=4)


def small(out):
    torch.manual_seed(0)
    export(seeded_init(CnnOps(), 1), 'cnn-ops', out, (1, 3, 32, 32), 13,
           ['conv1', 'pool1', 'lrn', 'dw', 'gconv', 'pool2', 'fc1'], seed=1)
    torch.manual_seed(0)
    later = seeded_init(CnnOps(), 1)
    export(later, 'cnn-ops-opset17', out, (1, 3, 32, 32), 17, [], seed=1)
    import onnx  # python3-onnx: re-save with the weights in a separate file, as big models are shipped
    ext = os.path.join(out, 'external')
    os.makedirs(ext, exist_ok=True)
    onnx.save_model(onnx.load(os.path.join(out, 'cnn-ops.onnx')), os.path.join(ext, 'cnn-ops.onnx'), save_as_external_data=True,
                    all_tensors_to_one_file=True, location='cnn-ops.weights', size_threshold=0)
    torch.manual_seed(1)
    export(seeded_init(ResidualConcat(), 2), 'residual-concat', out, (1, 3, 24, 24), 11, ['branch3', 'pool'], seed=2)
    torch.manual_seed(2)
    export(Legacy(), 'legacy-opset9', out, (1, 1, 12, 12), 9, ['conv', 'gap'], seed=3)
    operators(out)


# Module paths recorded per torchvision model: points that survive export as layers of their own.
TORCHVISION = {
    'alexnet': ['features.0', 'features.2', 'features.12', 'classifier.2'],
    'vgg11': ['features.0', 'features.2', 'features.20'],
    # BatchNorm is folded into the convolution on export: compare after the block's ReLU.
    'resnet18': ['maxpool', ('layer1', 'layer1.1.relu_1'), ('layer3', 'layer3.1.relu_1'), 'avgpool'],
    'squeezenet1_1': ['features.2', 'features.3.expand3x3'],
    'mobilenet_v2': [('features.0', 'features.0.2'), ('features.17', 'features.17.conv.2'), ('features.18', 'features.18.2')],
}


def torchvision_set(out):
    import torchvision
    for i, (name, points) in enumerate(TORCHVISION.items()):
        torch.manual_seed(i)
        model = seeded_init(getattr(torchvision.models, name)(weights=None), 10 + i)
        export(model, name, out, (1, 3, 224, 224), 13, points, seed=10 + i)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        x = F.interpolate(self.conv(x), scale_factor=2.0, mode='nearest')
        return torch.flatten(torch.erf(x), 1)


class Volume(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 3)

    def forward(self, x):
        return torch.flatten(self.conv(x), 1)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, a, b):
        return torch.flatten(self.conv(a) + self.conv(b), 1)


def broken(out):
    import onnx
    torch.manual_seed(0)
    net = CnnOps().eval()
    x = torch.rand(1, 3, 32, 32)
    base = os.path.join(out, 'base.onnx')
    torch.onnx.export(net, x, base, opset_version=13)
    data = open(base, 'rb').read()
    open(os.path.join(out, 'truncated.onnx'), 'wb').write(data[: len(data) // 2])
    open(os.path.join(out, 'wrong-magic.onnx'), 'wb').write(b'\x89PNG\r\n\x1a\n' + os.urandom(64))
    torch.onnx.export(Unsupported().eval(), torch.rand(1, 3, 8, 8), os.path.join(out, 'unsupported-ops.onnx'), opset_version=13)
    torch.onnx.export(Volume().eval(), torch.rand(1, 1, 4, 8, 8), os.path.join(out, 'conv3d.onnx'), opset_version=13)
    torch.onnx.export(TwoInputs().eval(), (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)), os.path.join(out, 'two-inputs.onnx'), opset_version=13)

    m = onnx.load(base)
    m.opset_import[0].version = 3
    onnx.save(m, os.path.join(out, 'opset3.onnx'))

    m = onnx.load(base)
    conv_w = next(t for t in m.graph.initializer if len(t.dims) == 4)
    conv_w.dims[1] = conv_w.dims[1] + 1   # weight expects more input channels than the tensor has
    onnx.save(m, os.path.join(out, 'inconsistent-weights.onnx'))

    m = onnx.load(base)
    m.graph.node[1].input[0] = 'nothing_makes_this'
    onnx.save(m, os.path.join(out, 'dangling-input.onnx'))

    ext_dir = os.path.join(out, 'external-missing')
    os.makedirs(ext_dir, exist_ok=True)
    m = onnx.load(base)
    onnx.save_model(m, os.path.join(ext_dir, 'model.onnx'), save_as_external_data=True, all_tensors_to_one_file=True,
                    location='model.weights', size_threshold=0)
    os.remove(os.path.join(ext_dir, 'model.weights'))
    os.remove(base)


if __name__ == '__main__':
    which, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    {'small': small, 'operators': operators, 'torchvision': torchvision_set, 'broken': broken}[which](out)
