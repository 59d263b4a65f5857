/**
 * Linear algebra that tfjs lacks, float64 where accuracy needs it. All matrices are
 * row-major flat arrays with their sizes passed beside them.
 *
 *   gram.ts         XᵀX / XᵀY accumulated over row chunks (tfjs float32 products, float64 sums)
 *   cholesky.ts     A = LLᵀ, recursive blocked, NotPositiveDefiniteError naming the pivot
 *   triangular.ts   L X = B and Lᵀ X = B with many right-hand sides
 *   solve.ts        SPD solve / inverse, ridge (G + λI)⁻¹B with λ absolute or relative
 *   gemm.ts         the float64 product C −= A·B all of the above run on (SIMD wasm kernel)
 *   correlation.ts  pearson, spearman (average ranks for ties), rankAverage
 */
export { gram, gramOfNpy, crossOfNpy, GramAccumulator, CrossAccumulator, type NpyGramOptions } from './gram.ts';
export { cholesky, choleskyBasic, NotPositiveDefiniteError, type CholeskyOptions } from './cholesky.ts';
export { solveLower, solveLowerTransposed, solveLowerBasic, solveLowerTransposedBasic } from './triangular.ts';
export { spdSolve, spdInverse, ridgeSolve, ridgeInverse, resolveLambda, meanDiagonal, type LambdaSpec, type RidgeResult } from './solve.ts';
export { matmul64 } from './gemm.ts';
export { pearson, spearman, rankAverage } from './correlation.ts';
