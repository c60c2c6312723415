// Where Debian's chromium package puts SwiftShader's Vulkan ICD: Dawn (the `webgpu` package) runs on it without a GPU.
/** The ICD file the tests point VK_ICD_FILENAMES at for WebGPU in Node (override: SWIFTSHADER_ICD). */
export const swiftShaderIcd = process.env.SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
