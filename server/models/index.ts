// Node-side model files: local folders, hf: downloads to a disk cache, and the model the server serves.
export { resolveModel, modelFolder, folderModelFiles, FileByteSource, type LocalModel, type ModelFolder } from './resolve-model.ts';
export { downloadHfModel, parseHfSpec, defaultHubCacheDir, type HfModelSpec, type HubOptions, type HfSnapshot, type FileProgress } from './hf-hub.ts';
export { terminalProgress, type ProgressStream } from './download-progress.ts';
export { loadServedModel, ModelFolderError, type ServedModel, type ModelSizing } from './served-model.ts';
