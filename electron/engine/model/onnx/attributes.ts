/** Reading an ONNX node's attributes, with the defaults the operator's specification gives. */
import type { OnnxAttribute, OnnxNode } from './proto';

export const attr = (node: OnnxNode, name: string): OnnxAttribute | undefined => node.attribute.find((a) => a.name === name);

export const attrInt = (node: OnnxNode, name: string, d: number): number => {
  const a = attr(node, name);
  return a && a.i !== undefined && (a.type === 2 || a.type === undefined || a.type === 0) ? Number(a.i) : d;
};

export const attrFloat = (node: OnnxNode, name: string, d: number): number => {
  const a = attr(node, name);
  return a && a.type === 1 ? Number(a.f) : d;
};

export const attrInts = (node: OnnxNode, name: string): number[] | undefined => {
  const a = attr(node, name);
  return a && a.type === 7 ? a.ints.map(Number) : undefined;
};

export const attrString = (node: OnnxNode, name: string, d: string): string => {
  const a = attr(node, name);
  return a && a.s && a.s.length ? Buffer.from(a.s).toString('utf8') : d;
};

/** How an error names a node: by its name, else by its place in the graph. */
export function where(node: OnnxNode, index: number): string {
  return node.name ? `node "${node.name}"` : `node #${index + 1}`;
}
