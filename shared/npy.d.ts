export type NpyData = Float32Array | Int32Array | Uint8Array;
export interface NpyArray {
    shape: number[];
    data: NpyData;
}
export declare function encodeNpy(array: NpyArray): Uint8Array;
export declare function decodeNpy(bytes: Uint8Array, name?: string): NpyArray;
