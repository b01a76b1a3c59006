// Mocha runs the compiled tests; the closing-line reporter prints `N passed, N failed` last for CI.
module.exports = {
  require: ['reflect-metadata'],
  spec: ['dist/test/**/*.test.js'],
  reporter: './test/support/closing-line-reporter.cjs',
  timeout: 20000,
  recursive: true,
};
