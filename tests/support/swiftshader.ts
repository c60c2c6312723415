// Where Debian's chromium package puts SwiftShader's Vulkan ICD, and whether Dawn (the `webgpu` package) can run on it here.
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The ICD file the tests point VK_ICD_FILENAMES at for WebGPU in Node (override: SWIFTSHADER_ICD). */
export const swiftShaderIcd = process.env.SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';

// Where the dynamic loader finds libvulkan.so.1 on Debian (multiarch) and elsewhere, plus LD_LIBRARY_PATH.
const libraryDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib'];

/**
 * Why Dawn cannot run on SwiftShader here, or null: the ICD ships with Chromium, but Dawn opens it through
 * the Vulkan loader (Debian's libvulkan1), which Chromium does not pull in; without it Dawn finds no adapter.
 */
export function swiftShaderUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | null {
  if (!existsSync(swiftShaderIcd)) return `no SwiftShader Vulkan ICD at ${swiftShaderIcd} (it comes with Debian's chromium)`;
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== ''), ...libraryDirs];
  if (!dirs.some((d) => existsSync(path.join(d, 'libvulkan.so.1')))) return 'no Vulkan loader (libvulkan.so.1: Debian\'s libvulkan1) for the SwiftShader ICD';
  return null;
}
