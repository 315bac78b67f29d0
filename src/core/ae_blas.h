/*
 * ae_blas.h — the only door from the core to BLAS.
 *
 * Every matrix product of autoenc goes through these wrappers, so that thread
 * control and the row-major convention live in one place.  (The naive
 * reference product the tests compare against is theirs: test_blas.c.)  All matrices are row-major float32.
 */
#ifndef AE_BLAS_H
#define AE_BLAS_H

#include <stdbool.h>

/*
 * C[M×N] = alpha · op(A) · op(B) + beta · C, row-major.
 * op(A) is M×K (A is K×M when transA), op(B) is K×N (B is N×K when transB).
 * lda/ldb/ldc are the row strides of the matrices as stored.
 */
void		ae_gemm(bool transA, bool transB, int M, int N, int K,
					float alpha, const float *A, int lda,
					const float *B, int ldb,
					float beta, float *C, int ldc);

/*
 * Cap OpenBLAS's thread pool (1 = deterministic, single-threaded, and the
 * pool's idle threads stopped).
 */
void		ae_blas_set_threads(int n);

#endif							/* AE_BLAS_H */
