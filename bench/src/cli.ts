// pnpm bench [--quick] [suite...]: runs the benchmark suites and renders BENCHMARKS.md.
console.log('no benchmark suites yet');
