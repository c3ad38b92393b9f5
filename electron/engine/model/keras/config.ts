/**
 * Keras model configs → the Keras 2 form TF.js Layers deserializes. Keras 2 configs (legacy .h5) pass through;
 * Keras 3 configs (.keras) are rewritten: module / registered_name keys dropped, dtype policies → dtype names,
 * InputLayer batch_shape → batch_input_shape, inbound nodes written as call arguments holding `__keras_tensor__`
 * records → [[layer, node, tensor, kwargs]] lists, single input/output triples nested.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Dict = { [k: string]: Json };

const isDict = (v: Json | undefined): v is Dict => !!v && typeof v === 'object' && !Array.isArray(v);

function kerasTensorsIn(value: Json, out: Json[][]): void {
  if (Array.isArray(value)) {
    for (const v of value) kerasTensorsIn(v, out);
  } else if (isDict(value)) {
    if (value.class_name === '__keras_tensor__' && isDict(value.config) && Array.isArray(value.config.keras_history)) {
      out.push([...(value.config.keras_history as Json[]).slice(0, 3), {}]);
    } else for (const v of Object.values(value)) kerasTensorsIn(v, out);
  }
}

function inboundNodes(nodes: Json): Json {
  if (!Array.isArray(nodes)) return nodes;
  return nodes.map((node) => {
    if (!isDict(node)) return node; // Keras 2: already [[name, node, tensor, kwargs], …]
    const tensors: Json[][] = [];
    kerasTensorsIn(node.args ?? [], tensors);
    return tensors;
  });
}

const nestTriple = (v: Json): Json => (Array.isArray(v) && v.length >= 3 && typeof v[0] === 'string' ? [v] : v);

export function normalizeKerasConfig(value: Json): Json {
  if (Array.isArray(value)) return value.map(normalizeKerasConfig);
  if (!isDict(value)) return value;
  // A dtype policy object stands where a dtype name is expected.
  if (value.class_name === 'DTypePolicy' || value.class_name === 'Policy') {
    return isDict(value.config) && typeof value.config.name === 'string' ? value.config.name : 'float32';
  }
  const out: Dict = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'module' || k === 'registered_name' || k === 'build_config' || k === 'compile_config') continue;
    out[k] = normalizeKerasConfig(v);
  }
  if (isDict(out.config)) {
    const cfg = out.config;
    if ('batch_shape' in cfg && !('batch_input_shape' in cfg)) {
      cfg.batch_input_shape = cfg.batch_shape;
      delete cfg.batch_shape;
    }
    if ('input_layers' in cfg) cfg.input_layers = nestTriple(cfg.input_layers);
    if ('output_layers' in cfg) cfg.output_layers = nestTriple(cfg.output_layers);
  }
  if ('inbound_nodes' in out) out.inbound_nodes = inboundNodes(out.inbound_nodes);
  return out;
}

/** Every layer config of a model config, nested models included. */
export function layerConfigs(model: Json): Dict[] {
  const out: Dict[] = [];
  const visit = (node: Json) => {
    if (!isDict(node) || !isDict(node.config)) return;
    const layers = node.config.layers;
    if (Array.isArray(layers)) {
      for (const l of layers) {
        if (isDict(l)) {
          out.push(l);
          visit(l);
        }
      }
    }
  };
  visit(model);
  return out;
}

export type { Json, Dict };
