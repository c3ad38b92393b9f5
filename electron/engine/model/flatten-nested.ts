/**
 * Models inside models (Teachable Machine's export is a Sequential holding a truncated MobileNet and a small
 * classifier, each a model of its own): rebuilt as one functional model whose layers are the inner models' own
 * layers, named by their path (`sequential_1/conv_pw_13_relu`), so every view, the atlas, training and export
 * see real layers instead of three opaque boxes. Each layer is re-created from its config under its path name and
 * given the original's weights (new variables named after the new layer, so a TF.js export reloads).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Layer = tfl.layers.Layer;
type SymbolicTensor = tfl.SymbolicTensor;

/** What tfjs-layers keeps of a container's graph (public in its JavaScript, not in its typings). */
interface ContainerGraph {
  nodesByDepth: Record<
    string,
    Array<{ outboundLayer: Layer; inputTensors: SymbolicTensor[]; outputTensors: SymbolicTensor[]; callArgs?: Record<string, unknown> }>
  >;
  inputs: SymbolicTensor[];
  outputs: SymbolicTensor[];
}

const isModel = (layer: Layer): layer is tfl.LayersModel => layer instanceof tfl.LayersModel;

export function hasNestedModels(model: tfl.LayersModel): boolean {
  return model.layers.some(isModel);
}

/** A layer like `layer` (same class and settings) under another name, not yet built. */
function recreate(layer: Layer, name: string): Layer {
  const className = layer.getClassName();
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new Error(`The layer class ${className} is not registered`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls as never, { ...layer.getConfig(), name } as never) as unknown as Layer;
}

/** One layer applied to `ins` under the path `prefix`: a nested model is inlined, any other layer copied. */
function applyLayer(
  layer: Layer,
  ins: SymbolicTensor[],
  prefix: string,
  made: Array<[Layer, Layer]>,
  callArgs: Record<string, unknown> = {},
): SymbolicTensor[] {
  if (isModel(layer)) return inline(layer, ins, `${prefix}${layer.name}/`, made);
  const copy = recreate(layer, `${prefix}${layer.name}`);
  const applied = copy.apply(ins.length === 1 ? ins[0] : ins, callArgs) as SymbolicTensor | SymbolicTensor[];
  made.push([layer, copy]);
  return Array.isArray(applied) ? applied : [applied];
}

/** Applies `container`'s graph to `inputs`, inlining nested models; records every layer copied in `made`. */
function inline(container: tfl.LayersModel, inputs: SymbolicTensor[], prefix: string, made: Array<[Layer, Layer]>): SymbolicTensor[] {
  // A Sequential is a chain (and one never called has no graph of its own yet).
  if (container instanceof tfl.Sequential) {
    return container.layers.filter((l) => l.getClassName() !== 'InputLayer').reduce((x, layer) => applyLayer(layer, x, prefix, made), inputs);
  }
  const graph = container as unknown as ContainerGraph;
  const mapped = new Map<number, SymbolicTensor>();
  graph.inputs.forEach((t, i) => mapped.set(t.id, inputs[i]));
  const depths = Object.keys(graph.nodesByDepth)
    .map(Number)
    .sort((a, b) => b - a);
  for (const depth of depths) {
    for (const node of graph.nodesByDepth[depth]) {
      if (node.outboundLayer.getClassName() === 'InputLayer') continue;
      const outs = applyLayer(
        node.outboundLayer,
        node.inputTensors.map((t) => mapped.get(t.id)!),
        prefix,
        made,
        node.callArgs,
      );
      node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]));
    }
  }
  return graph.outputs.map((t) => mapped.get(t.id)!);
}

/** The name of a model's i-th input layer; a Sequential that starts with a model has its input's. */
function inputName(model: tfl.LayersModel, i: number): string {
  const own = (model.inputLayers as Layer[] | undefined)?.[i]?.name;
  if (own) return own;
  const first = model.layers[0];
  return first && isModel(first) ? inputName(first, i) : i ? `input_${i + 1}` : 'input';
}

/**
 * The model itself when nothing is nested; otherwise its flat copy (the original is disposed). Layer names keep
 * the path of the models they sat in, joined with "/".
 */
export function flattenNestedModels(model: tfl.LayersModel): tfl.LayersModel {
  if (!hasNestedModels(model)) return model;
  const inputs = model.inputs.map((t, i) => tfl.input({ shape: t.shape.slice(1) as number[], name: inputName(model, i), dtype: t.dtype }));
  const made: Array<[Layer, Layer]> = [];
  const outputs = inline(model, inputs, '', made);
  const flat = tfl.model({ inputs, outputs: outputs.length === 1 ? outputs[0] : outputs, name: model.name });
  for (const [original, copy] of made) {
    const weights = original.getWeights();
    if (weights.length) copy.setWeights(weights);
  }
  model.dispose();
  // tfjs-layers leaves the weights of a Sequential inside a Sequential undisposed: let go of what is left.
  for (const [original] of made) {
    for (const weight of original.weights) if (!(weight as unknown as { val: tf.Variable }).val.isDisposed) weight.dispose();
  }
  return flat;
}
