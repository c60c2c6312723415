// Node-side model files: local folders, hf: downloads to a disk cache, and the model the server serves.
export { resolveModel, folderModelFiles, FileByteSource, type LocalModel } from './resolve-model.ts';
export { loadServedModel, ModelFolderError, type ServedModel, type ModelSizing } from './served-model.ts';
