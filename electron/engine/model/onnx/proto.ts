/**
 * The part of the ONNX protobuf schema (onnx/onnx.proto3, IR version ≤ 10) a CNN classifier needs, parsed with
 * protobufjs at first use. Field numbers are ONNX's; messages the app never reads (training info, functions,
 * sparse tensors) are left out — protobuf skips unknown fields, so files that carry them still decode.
 */
import * as protobuf from 'protobufjs';

const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message StringStringEntryProto { string key = 1; string value = 2; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message TensorShapeProto {
  message Dimension { int64 dim_value = 1; string dim_param = 2; string denotation = 3; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  Tensor tensor_type = 1;
  string denotation = 6;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }
message TensorProto {
  message Segment { int64 begin = 1; int64 end = 2; }
  repeated int64 dims = 1;
  int32 data_type = 2;
  Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  string name = 8;
  bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  int32 data_location = 14;
}
message AttributeProto {
  string name = 1;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  string doc_string = 13;
  int32 type = 20;
  string ref_attr_name = 21;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
  string domain = 7;
}
message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}
message ModelProto {
  int64 ir_version = 1;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}
`;

/** ONNX TensorProto.DataType values the loader reads. */
export const ONNX_DTYPE = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11 } as const;

export interface OnnxDimension {
  dimValue?: number;
  dimParam?: string;
}
export interface OnnxValueInfo {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: OnnxDimension[] } } };
}
export interface OnnxTensor {
  dims: number[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  name: string;
  rawData?: Uint8Array;
  externalData: Array<{ key: string; value: string }>;
  dataLocation?: number;
  /** Where raw_data sits in the model file when it was located rather than read (stream-decode.ts). */
  rawLocation?: { file: string; offset: number; length: number };
}
export interface OnnxAttribute {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
}
export interface OnnxNode {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: OnnxAttribute[];
}
export interface OnnxGraph {
  node: OnnxNode[];
  name: string;
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}
export interface OnnxModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  graph?: OnnxGraph;
  opsetImport: Array<{ domain: string; version: number }>;
  metadataProps: Array<{ key: string; value: string }>;
}

let root: protobuf.Root | undefined;

/** A message type of the schema above, e.g. 'ModelProto'. */
export function onnxType(name: string): protobuf.Type {
  if (!root) root = protobuf.parse(ONNX_PROTO, { keepCase: false }).root;
  return root.lookupType(`onnx.${name}`);
}

const onnxModelType = (): protobuf.Type => onnxType('ModelProto');

/** Decodes `bytes` as `type` into plain objects: int64 as numbers, defaults filled, bytes as views. */
export function toPlain(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return type.toObject(type.decode(bytes), { longs: Number, defaults: true, arrays: true }) as Record<string, unknown>;
}

/**
 * Decodes a ModelProto. int64 fields become plain numbers (every size and attribute in a CNN fits in 2^53);
 * raw_data stays a view into `bytes`, so weights are not copied here.
 */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  return toPlain(onnxModelType(), bytes) as unknown as OnnxModel;
}

export function encodeOnnxModel(model: Record<string, unknown>): Uint8Array {
  const type = onnxModelType();
  const error = type.verify(model);
  if (error) throw new Error(`internal: ONNX model does not verify: ${error}`);
  return type.encode(type.fromObject(model)).finish();
}
