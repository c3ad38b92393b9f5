#!/usr/bin/python3
"""
Keras agreement fixtures written with h5py (python3-h5py) in Keras's own file layouts — no Keras or TensorFlow
needed — with expected outputs computed independently by PyTorch's functional ops (python3-torch) from the same
weights. Usage: build/keras-fixtures.py OUT

  seq-legacy.h5          Keras 2 legacy HDF5, Sequential (ZeroPadding2D, Conv2D, BatchNormalization, MaxPooling2D,
                         DepthwiseConv2D, SeparableConv2D, AveragePooling2D, Flatten, Dropout, Dense+softmax)
  functional-legacy.h5   Keras 2 legacy HDF5, functional (Rescaling, two branches, Add, Concatenate, ReLU,
                         GlobalAveragePooling2D, Dense)
  functional.keras       Keras 3 zip (config.json + model.weights.h5), the same functional model plus a
                         Normalization layer
  nested-legacy.h5       Keras 2 legacy HDF5, Teachable Machine's layout: a Sequential holding a functional base
                         (Conv2D, BatchNormalization, ReLU(6), GlobalAveragePooling2D) and a Sequential head
  nested.keras           Keras 3 zip of the same nested model (weights under layers/<model>/layers/<layer>/vars)
  <name>.input.npy / <name>.output.npy   NHWC input and the expected output
  bad/                   broken files for the error manifest
"""
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(7)


def w(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def layer(class_name, **config):
    return {'class_name': class_name, 'config': config}


# ---------- independent forward computations (PyTorch functional, NCHW) ----------

def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def nhwc_to_nchw(x):
    return t(x).permute(0, 3, 1, 2)


def conv(x, kernel, bias=None, stride=1, padding=0, groups=1):
    # Keras kernel [kh, kw, in/groups, out] → PyTorch [out, in/groups, kh, kw]
    k = t(kernel).permute(3, 2, 0, 1)
    return F.conv2d(x, k, None if bias is None else t(bias), stride=stride, padding=padding, groups=groups)


def depthwise(x, kernel, bias=None, padding=0):
    kh, kw, c, m = kernel.shape
    # Keras depthwise [kh, kw, C, M] → grouped conv weight [C·M, 1, kh, kw], output channel c·M + j
    k = t(kernel).permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    return F.conv2d(x, k, None if bias is None else t(bias), padding=padding, groups=c)


def batchnorm(x, gamma, beta, mean, var, eps):
    shape = (1, -1, 1, 1)
    return (x - t(mean).view(shape)) / torch.sqrt(t(var).view(shape) + eps) * t(gamma).view(shape) + t(beta).view(shape)


def flatten_nhwc(x):
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)   # Keras flattens in (h, w, c) order


# ---------- writers ----------

def write_legacy_h5(path, model_config, weights):
    """weights: ordered list of (layer name, [(weight name, array)])."""
    with h5py.File(path, 'w') as f:
        f.attrs['keras_version'] = b'2.15.0'
        f.attrs['backend'] = b'tensorflow'
        f.attrs['model_config'] = json.dumps(model_config).encode()
        g = f.create_group('model_weights')
        g.attrs['layer_names'] = np.array([n.encode() for n, _ in weights])
        g.attrs['backend'] = b'tensorflow'
        g.attrs['keras_version'] = b'2.15.0'
        for name, arrays in weights:
            lg = g.create_group(name)
            lg.attrs['weight_names'] = np.array([f'{name}/{wn}:0'.encode() for wn, _ in arrays])
            for wn, a in arrays:
                lg.create_dataset(f'{name}/{wn}:0', data=a)


def write_keras3(path, model_config, weights):
    buf = io.BytesIO()
    with h5py.File(buf, 'w') as f:
        layers = f.create_group('layers')
        for name, arrays in weights:
            v = layers.create_group(name).create_group('vars')
            for i, (_, a) in enumerate(arrays):
                v.create_dataset(str(i), data=a)
        f.create_group('vars')
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr('metadata.json', json.dumps({'keras_version': '3.3.3', 'date_saved': '2026-11-23@00:00:00'}))
        z.writestr('config.json', json.dumps(model_config))
        z.writestr('model.weights.h5', buf.getvalue())


def keras3(obj):
    """A Keras 2 style config rewritten the way Keras 3 saves it: module keys, dtype policies, batch_shape,
    inbound nodes as call arguments holding __keras_tensor__ records, flat input/output layer triples."""
    if isinstance(obj, list):
        return [keras3(o) for o in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: keras3(v) for k, v in obj.items()}
    if 'class_name' in out and 'config' in out:
        out['module'] = 'keras.layers'
        out['registered_name'] = None
        cfg = out['config']
        if isinstance(cfg, dict):
            if cfg.get('dtype') == 'float32':
                cfg['dtype'] = {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}
            if 'batch_input_shape' in cfg:
                cfg['batch_shape'] = cfg.pop('batch_input_shape')
    if 'inbound_nodes' in out:
        nodes = []
        for node in out['inbound_nodes']:
            tensors = [{'class_name': '__keras_tensor__', 'config': {'shape': None, 'dtype': 'float32', 'keras_history': [n, i, j]}} for n, i, j, _ in node]
            nodes.append({'args': [tensors if len(tensors) > 1 else tensors[0]], 'kwargs': {}})
        out['inbound_nodes'] = nodes
    for key in ('input_layers', 'output_layers'):
        if key in out and len(out[key]) == 1:
            out[key] = out[key][0]
    return out


def sequential(out):
    x = rng.random((1, 20, 20, 3), dtype=np.float32)
    k1, b1 = w(3, 3, 3, 6), w(6, scale=0.1)
    gamma, beta, mean, var = (rng.random(6, dtype=np.float32) + 0.5), w(6, scale=0.1), w(6, scale=0.1), (rng.random(6, dtype=np.float32) + 0.5)
    dk, db = w(3, 3, 6, 2), w(12, scale=0.1)
    sdk, spk, sb = w(3, 3, 12, 1), w(1, 1, 12, 8), w(8, scale=0.1)
    fk, fb = w(8 * 5 * 5, 10, scale=0.1), w(10, scale=0.1)
    config = {'class_name': 'Sequential', 'config': {'name': 'seq_legacy', 'layers': [
        layer('InputLayer', batch_input_shape=[None, 20, 20, 3], dtype='float32', sparse=False, ragged=False, name='input_1'),
        layer('ZeroPadding2D', name='pad', trainable=True, dtype='float32', padding=[[1, 1], [1, 1]], data_format='channels_last'),
        layer('Conv2D', name='conv1', trainable=True, dtype='float32', filters=6, kernel_size=[3, 3], strides=[1, 1], padding='valid',
              data_format='channels_last', dilation_rate=[1, 1], groups=1, activation='relu', use_bias=True,
              kernel_initializer={'class_name': 'GlorotUniform', 'config': {'seed': None}}, bias_initializer={'class_name': 'Zeros', 'config': {}},
              kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None),
        layer('BatchNormalization', name='bn1', trainable=True, dtype='float32', axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True),
        layer('MaxPooling2D', name='pool1', trainable=True, dtype='float32', pool_size=[2, 2], padding='valid', strides=[2, 2], data_format='channels_last'),
        layer('DepthwiseConv2D', name='dw', trainable=True, dtype='float32', kernel_size=[3, 3], strides=[1, 1], padding='same',
              depth_multiplier=2, activation='linear', use_bias=True, data_format='channels_last', dilation_rate=[1, 1]),
        layer('SeparableConv2D', name='sep', trainable=True, dtype='float32', filters=8, kernel_size=[3, 3], strides=[1, 1], padding='same',
              depth_multiplier=1, activation='relu', use_bias=True, data_format='channels_last', dilation_rate=[1, 1]),
        layer('AveragePooling2D', name='pool2', trainable=True, dtype='float32', pool_size=[2, 2], padding='valid', strides=[2, 2], data_format='channels_last'),
        layer('Flatten', name='flatten', trainable=True, dtype='float32', data_format='channels_last'),
        layer('Dropout', name='drop', trainable=True, dtype='float32', rate=0.5, noise_shape=None, seed=None),
        layer('Dense', name='fc', trainable=True, dtype='float32', units=10, activation='softmax', use_bias=True),
    ]}}
    weights = [('input_1', []), ('pad', []), ('conv1', [('kernel', k1), ('bias', b1)]),
               ('bn1', [('gamma', gamma), ('beta', beta), ('moving_mean', mean), ('moving_variance', var)]),
               ('pool1', []), ('dw', [('depthwise_kernel', dk), ('bias', db)]),
               ('sep', [('depthwise_kernel', sdk), ('pointwise_kernel', spk), ('bias', sb)]),
               ('pool2', []), ('flatten', []), ('drop', []), ('fc', [('kernel', fk), ('bias', fb)])]
    write_legacy_h5(os.path.join(out, 'seq-legacy.h5'), config, weights)
    with torch.no_grad():
        h = F.relu(conv(F.pad(nhwc_to_nchw(x), (1, 1, 1, 1)), k1, b1))
        h = F.max_pool2d(batchnorm(h, gamma, beta, mean, var, 0.001), 2)            # 20 → 10
        h = depthwise(h, dk, db, padding=1)
        h = F.relu(conv(depthwise(h, sdk, padding=1), spk, sb))
        h = F.avg_pool2d(h, 2)                                                        # 10 → 5
        y = torch.softmax(flatten_nhwc(h) @ t(fk) + t(fb), dim=1)
    np.save(os.path.join(out, 'seq-legacy.input.npy'), x)
    np.save(os.path.join(out, 'seq-legacy.output.npy'), y.numpy().astype(np.float32))
    return config, weights


def functional_parts():
    ka, ba = w(3, 3, 1, 4), w(4, scale=0.1)
    kb, bb = w(1, 1, 1, 4), w(4, scale=0.1)
    kd, bd = w(8, 3), w(3, scale=0.1)
    tensors = lambda *names: [[[n, 0, 0, {}] for n in names]]
    layers = [
        {**layer('InputLayer', batch_input_shape=[None, 16, 16, 1], dtype='float32', sparse=False, ragged=False, name='image'), 'name': 'image', 'inbound_nodes': []},
        {**layer('Rescaling', name='scale', trainable=True, dtype='float32', scale=1 / 255.0, offset=-0.5), 'name': 'scale', 'inbound_nodes': tensors('image')},
        {**layer('Conv2D', name='a', trainable=True, dtype='float32', filters=4, kernel_size=[3, 3], strides=[1, 1], padding='same', activation='linear', use_bias=True, dilation_rate=[1, 1]), 'name': 'a', 'inbound_nodes': tensors('scale')},
        {**layer('Conv2D', name='b', trainable=True, dtype='float32', filters=4, kernel_size=[1, 1], strides=[1, 1], padding='valid', activation='linear', use_bias=True, dilation_rate=[1, 1]), 'name': 'b', 'inbound_nodes': tensors('scale')},
        {**layer('Add', name='add', trainable=True, dtype='float32'), 'name': 'add', 'inbound_nodes': tensors('a', 'b')},
        {**layer('ReLU', name='relu', trainable=True, dtype='float32', max_value=None, negative_slope=0.0, threshold=0.0), 'name': 'relu', 'inbound_nodes': tensors('add')},
        {**layer('Concatenate', name='cat', trainable=True, dtype='float32', axis=-1), 'name': 'cat', 'inbound_nodes': tensors('relu', 'a')},
        {**layer('GlobalAveragePooling2D', name='gap', trainable=True, dtype='float32', data_format='channels_last'), 'name': 'gap', 'inbound_nodes': tensors('cat')},
        {**layer('Dense', name='logits', trainable=True, dtype='float32', units=3, activation='linear', use_bias=True), 'name': 'logits', 'inbound_nodes': tensors('gap')},
    ]
    config = {'class_name': 'Functional', 'config': {'name': 'branches', 'layers': layers, 'input_layers': [['image', 0, 0]], 'output_layers': [['logits', 0, 0]]}}
    weights = [('image', []), ('scale', []), ('a', [('kernel', ka), ('bias', ba)]), ('b', [('kernel', kb), ('bias', bb)]),
               ('add', []), ('relu', []), ('cat', []), ('gap', []), ('logits', [('kernel', kd), ('bias', bd)])]

    def forward(x, pre=lambda h: h):
        with torch.no_grad():
            h = pre(nhwc_to_nchw(x)) / 255.0 - 0.5
            a = conv(h, ka, ba, padding=1)
            b = conv(h, kb, bb)
            c = torch.cat([F.relu(a + b), a], dim=1)
            return (c.mean(dim=(2, 3)) @ t(kd) + t(bd)).numpy().astype(np.float32)
    return config, weights, forward


def functional(out):
    x = (rng.random((1, 16, 16, 1), dtype=np.float32) * 255).astype(np.float32)
    config, weights, forward = functional_parts()
    write_legacy_h5(os.path.join(out, 'functional-legacy.h5'), config, weights)
    np.save(os.path.join(out, 'functional-legacy.input.npy'), x)
    np.save(os.path.join(out, 'functional-legacy.output.npy'), forward(x))

    # Keras 3: the same graph behind a Normalization layer (mean 100, variance 400 → (x − 100) / 20).
    k3 = json.loads(json.dumps(config))
    layers = k3['config']['layers']
    layers.insert(1, {**layer('Normalization', name='norm', trainable=True, dtype='float32', axis=-1, mean=None, variance=None, invert=False), 'name': 'norm', 'inbound_nodes': [[['image', 0, 0, {}]]]})
    layers[2]['inbound_nodes'] = [[['norm', 0, 0, {}]]]
    k3weights = [weights[0], ('norm', [('mean', np.array([100.0], np.float32)), ('variance', np.array([400.0], np.float32)), ('count', np.array(0, np.int64))])] + weights[1:]
    write_keras3(os.path.join(out, 'functional.keras'), keras3(k3), [(n, a) for n, a in k3weights if a])
    np.save(os.path.join(out, 'functional.input.npy'), x)
    np.save(os.path.join(out, 'functional.output.npy'), forward(x, pre=lambda h: (h - 100.0) / 20.0))


def broken(out, seq_config, seq_weights):
    bad = os.path.join(out, 'bad')
    os.makedirs(bad, exist_ok=True)
    open(os.path.join(bad, 'not-hdf5.h5'), 'wb').write(b'this is not an HDF5 file\n' * 4)
    with h5py.File(os.path.join(bad, 'weights-only.h5'), 'w') as f:
        f.create_group('conv1').create_dataset('kernel:0', data=w(3, 3, 1, 2))
    lstm = json.loads(json.dumps(seq_config))
    lstm['config']['layers'].insert(2, layer('LSTM', name='lstm', units=4))
    lstm['config']['layers'].insert(3, layer('Conv3D', name='vol', filters=2, kernel_size=[3, 3, 3]))
    write_legacy_h5(os.path.join(bad, 'recurrent.h5'), lstm, seq_weights)
    write_legacy_h5(os.path.join(bad, 'missing-weights.h5'), seq_config, [(n, a) for n, a in seq_weights if n != 'conv1'])
    wrong = [(n, [(wn, a[..., :-1] if wn == 'kernel' and n == 'conv1' else a) for wn, a in arrays]) for n, arrays in seq_weights]
    write_legacy_h5(os.path.join(bad, 'wrong-shape.h5'), seq_config, wrong)
    with zipfile.ZipFile(os.path.join(bad, 'no-config.keras'), 'w') as z:
        z.writestr('metadata.json', '{}')


def nested(out):
    """Models inside a model, as Teachable Machine's Keras export has them: Sequential[base (Functional), head (Sequential)]."""
    x = rng.random((1, 16, 16, 3), dtype=np.float32)
    k1 = w(3, 3, 3, 6)
    gamma, beta, mean, var = (rng.random(6, dtype=np.float32) + 0.5), w(6, scale=0.1), w(6, scale=0.1), (rng.random(6, dtype=np.float32) + 0.5)
    d1k, d1b, d2k, d2b = w(6, 8), w(8, scale=0.1), w(8, 3), w(3, scale=0.1)
    tensors = lambda *names: [[[n, 0, 0, {}] for n in names]]
    base_layers = [
        {**layer('InputLayer', batch_input_shape=[None, 16, 16, 3], dtype='float32', sparse=False, ragged=False, name='input_1'), 'name': 'input_1', 'inbound_nodes': []},
        {**layer('Conv2D', name='conv1', trainable=True, dtype='float32', filters=6, kernel_size=[3, 3], strides=[1, 1], padding='same', activation='linear', use_bias=False, dilation_rate=[1, 1]), 'name': 'conv1', 'inbound_nodes': tensors('input_1')},
        {**layer('BatchNormalization', name='conv1_bn', trainable=True, dtype='float32', axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True), 'name': 'conv1_bn', 'inbound_nodes': tensors('conv1')},
        {**layer('ReLU', name='conv1_relu', trainable=True, dtype='float32', max_value=6.0, negative_slope=0.0, threshold=0.0), 'name': 'conv1_relu', 'inbound_nodes': tensors('conv1_bn')},
        {**layer('GlobalAveragePooling2D', name='gap', trainable=True, dtype='float32', data_format='channels_last'), 'name': 'gap', 'inbound_nodes': tensors('conv1_relu')},
    ]
    base = {'class_name': 'Functional', 'config': {'name': 'base', 'layers': base_layers, 'input_layers': [['input_1', 0, 0]], 'output_layers': [['gap', 0, 0]]}}
    head = {'class_name': 'Sequential', 'config': {'name': 'head', 'layers': [
        layer('InputLayer', batch_input_shape=[None, 6], dtype='float32', sparse=False, ragged=False, name='head_input'),
        layer('Dense', name='dense_1', trainable=True, dtype='float32', units=8, activation='relu', use_bias=True),
        layer('Dense', name='dense_2', trainable=True, dtype='float32', units=3, activation='softmax', use_bias=True),
    ]}}
    config = {'class_name': 'Sequential', 'config': {'name': 'teachable', 'layers': [base, head]}}
    inner = {'base': [('conv1', [('kernel', k1)]), ('conv1_bn', [('gamma', gamma), ('beta', beta), ('moving_mean', mean), ('moving_variance', var)])],
             'head': [('dense_1', [('kernel', d1k), ('bias', d1b)]), ('dense_2', [('kernel', d2k), ('bias', d2b)])]}
    # Legacy HDF5: one group per top-level layer; a nested model's group lists its layers' weights as <layer>/<weight>:0.
    with h5py.File(os.path.join(out, 'nested-legacy.h5'), 'w') as f:
        f.attrs['keras_version'] = b'2.15.0'
        f.attrs['backend'] = b'tensorflow'
        f.attrs['model_config'] = json.dumps(config).encode()
        g = f.create_group('model_weights')
        g.attrs['layer_names'] = np.array([b'base', b'head'])
        for model_name, layers in inner.items():
            mg = g.create_group(model_name)
            mg.attrs['weight_names'] = np.array([f'{ln}/{wn}:0'.encode() for ln, arrays in layers for wn, _ in arrays])
            for ln, arrays in layers:
                for wn, a in arrays:
                    mg.create_dataset(f'{ln}/{wn}:0', data=a)
    # Keras 3: nested models keep their layers under layers/<model>/layers/<layer>/vars/<i>.
    buf = io.BytesIO()
    with h5py.File(buf, 'w') as f:
        for model_name, layers in inner.items():
            for ln, arrays in layers:
                v = f.create_group(f'layers/{model_name}/layers/{ln}/vars')
                for i, (_, a) in enumerate(arrays):
                    v.create_dataset(str(i), data=a)
        f.create_group('vars')
    with zipfile.ZipFile(os.path.join(out, 'nested.keras'), 'w', compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr('metadata.json', json.dumps({'keras_version': '3.3.3', 'date_saved': '2026-12-06@00:00:00'}))
        z.writestr('config.json', json.dumps(keras3(config)))
        z.writestr('model.weights.h5', buf.getvalue())
    with torch.no_grad():
        h = conv(nhwc_to_nchw(x), k1, padding=1)
        h = torch.clamp(batchnorm(h, gamma, beta, mean, var, 0.001), 0, 6).mean(dim=(2, 3))
        y = torch.softmax(F.relu(h @ t(d1k) + t(d1b)) @ t(d2k) + t(d2b), dim=1)
    for stem in ('nested-legacy', 'nested'):
        np.save(os.path.join(out, f'{stem}.input.npy'), x)
        np.save(os.path.join(out, f'{stem}.output.npy'), y.numpy().astype(np.float32))


if __name__ == '__main__':
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seq_config, seq_weights = sequential(out)
    functional(out)
    broken(out, seq_config, seq_weights)
    nested(out)
