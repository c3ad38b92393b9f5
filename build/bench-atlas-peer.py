#!/usr/bin/python3
"""
The bench's PyTorch peer for the ResNet-18 atlas (build/bench-atlas.ts): the same work done the way a PyTorch user
would do it on CPU. Usage: bench-atlas-peer.py PNG_FOLDER UNITS_PER_LAYER K

1. Top-k scan: every image of the folder (PIL decode, 224×224, batches of 16) through torchvision's ResNet-18 with
   forward hooks on every convolution, keeping each unit's k strongest images and the position of their maximum.
2. Deconvnet projections of the first UNITS_PER_LAYER units of every convolution, each unit's k winners in one
   batch: forward stopped at the layer, a one-hot seed (the activation's value) at the winner's position, autograd
   down to the pixels with every ReLU's backward rectifying the signal (Zeiler & Fergus) and max-pooling routing it
   to the window's maximum. Batch norm is replaced by identity, as the ONNX export folds it into the convolutions.

Prints one JSON line: {"scan_s", "project_s", "projections"}.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image

torch.set_num_threads(2)
folder, units_per_layer, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
files = sorted(os.path.join(root, f) for root, _, names in os.walk(folder) for f in names if f.endswith('.png'))

net = torchvision.models.resnet18(weights=None).eval()
for name, module in list(net.named_modules()):
    for child_name, child in list(module.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, child_name, nn.Identity())
        elif isinstance(child, nn.ReLU):
            child.inplace = False
convs = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Conv2d)]


def load(path):
    img = Image.open(path).convert('RGB').resize((224, 224))
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)


# 1. The scan.
t0 = time.time()
best = {name: None for name, _ in convs}
captured = {}
hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: captured.__setitem__(name, out)) for name, m in convs]
with torch.no_grad():
    for start in range(0, len(files), 16):
        batch = torch.stack([load(f) for f in files[start:start + 16]])
        net(batch)
        for name, out in captured.items():
            n, c, h, w = out.shape
            values, where = out.reshape(n, c, h * w).max(dim=2)  # [n, c]
            index = torch.arange(start, start + n).unsqueeze(1).expand(n, c)
            rows = (values.T, index.T, where.T)  # [c, n]
            if best[name] is not None:
                rows = tuple(torch.cat([a, b], dim=1) for a, b in zip(best[name], rows))
            top = rows[0].topk(min(k, rows[0].shape[1]), dim=1).indices
            best[name] = tuple(torch.gather(r, 1, top) for r in rows)
for h in hooks:
    h.remove()
scan_s = time.time() - t0


# 2. The projections.
class Stop(Exception):
    pass


def rectify(module, grad_in, grad_out):
    return (torch.relu(grad_out[0]),)


for m in net.modules():
    if isinstance(m, nn.ReLU):
        m.register_full_backward_hook(rectify)

t0 = time.time()
images = {}
projections = 0
for name, module in convs:
    width = None

    def stop(mod, inp, out):
        captured['out'] = out
        raise Stop()

    hook = module.register_forward_hook(stop)
    values, index, where = best[name]
    for unit in range(min(units_per_layer, values.shape[0])):
        ids = index[unit].tolist()
        x = torch.stack([images.setdefault(i, load(files[i])) for i in ids]).requires_grad_(True)
        try:
            net(x)
        except Stop:
            pass
        out = captured['out']
        seed = torch.zeros_like(out)
        w = out.shape[3]
        for j, at in enumerate(where[unit].tolist()):
            seed[j, unit, at // w, at % w] = values[unit, j]
        (grad,) = torch.autograd.grad(out, x, seed)
        projections += grad.shape[0]
    hook.remove()
project_s = time.time() - t0
print(json.dumps({'scan_s': scan_s, 'project_s': project_s, 'projections': projections}))
