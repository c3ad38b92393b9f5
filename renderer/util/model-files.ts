/** File extensions of single-file models the app opens by upload or drop (TF.js models are folders: by path). */
export const MODEL_FILE_EXTENSIONS = ['.onnx', '.h5', '.hdf5', '.keras'];

export const isModelFile = (name: string): boolean => MODEL_FILE_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));
