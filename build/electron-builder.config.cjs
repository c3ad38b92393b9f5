/**
 * electron-builder configuration of the installers (npm run dist, build/dist.mjs). Only what the app runs goes in:
 * the bundles, the renderer, the bundled model and samples, and production node_modules. Native binaries and
 * WebAssembly are unpacked beside app.asar: a .node or .so cannot be loaded from inside an archive, and the
 * engine reads its .wasm files with plain fs from worker threads. Each platform keeps only its own ONNX Runtime
 * binaries (the package ships every platform's, 290 MB).
 */
const APP_FILES = [
  'package.json',
  'dist/electron/*.cjs',
  'dist/renderer/**/*',
  'resources/model/**/*',
  'resources/samples/**/*',
  '!**/*.map',
  '!**/*.ts', // packages' TypeScript sources and declarations: nothing runs them
  '!**/*.md',
];

/** A platform's files: the app's, without ONNX Runtime's binaries for the other platforms and architectures. */
const filesFor = (ortPlatform) => [
  ...APP_FILES,
  ...['linux', 'darwin', 'win32'].filter((p) => p !== ortPlatform).map((p) => `!node_modules/onnxruntime-node/bin/*/${p}/**`),
  `!node_modules/onnxruntime-node/bin/*/${ortPlatform}/!(\${arch})/**`,
];

module.exports = {
  appId: 'org.cnn-inspector.app',
  productName: 'CNN Inspector',
  executableName: 'cnn-inspector',
  copyright: 'CNN Inspector contributors, MIT licence',
  directories: { output: 'release', buildResources: 'resources/installer' },
  icon: 'resources/installer/icon.png',
  files: APP_FILES,
  asar: true,
  asarUnpack: ['**/*.node', '**/*.so', '**/*.so.*', '**/*.dylib', '**/*.dll', '**/*.wasm', 'node_modules/sharp/**/*', 'node_modules/@img/**/*'],
  // sharp and ONNX Runtime are Node-API modules: the same binaries load in Electron, nothing to rebuild (a rebuild
  // would download Electron's headers).
  npmRebuild: false,
  linux: { target: ['AppImage', 'deb'], category: 'Science', synopsis: 'See inside a convolutional network', files: filesFor('linux') },
  deb: { packageCategory: 'science' },
  mac: { target: ['dmg'], category: 'public.app-category.education', files: filesFor('darwin') },
  win: { target: ['nsis'], files: filesFor('win32') },
  nsis: { oneClick: false, allowToChangeInstallationDirectory: true },
};
