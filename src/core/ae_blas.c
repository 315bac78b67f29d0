/*
 * ae_blas.c — thin wrappers over OpenBLAS's CBLAS interface.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* RTLD_DEFAULT */
#endif

#include "ae_blas.h"

#include <cblas.h>
#include <dlfcn.h>

void
ae_gemm(bool transA, bool transB, int M, int N, int K,
		float alpha, const float *A, int lda,
		const float *B, int ldb,
		float beta, float *C, int ldc)
{
	cblas_sgemm(CblasRowMajor,
				transA ? CblasTrans : CblasNoTrans,
				transB ? CblasTrans : CblasNoTrans,
				M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void
ae_gemv(bool transA, int M, int N, float alpha, const float *A, int lda,
		const float *x, float beta, float *y)
{
	/*
	 * CBLAS takes the stored shape (rows × cols of A as laid out); with
	 * transA the stored matrix is N×M and y has M entries.
	 */
	if (transA)
		cblas_sgemv(CblasRowMajor, CblasTrans, N, M, alpha, A, lda, x, 1, beta, y, 1);
	else
		cblas_sgemv(CblasRowMajor, CblasNoTrans, M, N, alpha, A, lda, x, 1, beta, y, 1);
}

void
ae_gemm_naive(bool transA, bool transB, int M, int N, int K,
			  float alpha, const float *A, int lda,
			  const float *B, int ldb,
			  float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		acc = 0.0;

			for (int k = 0; k < K; k++)
			{
				float		a = transA ? A[k * lda + i] : A[i * lda + k];
				float		b = transB ? B[j * ldb + k] : B[k * ldb + j];

				acc += (double) a * b;
			}
			/* beta == 0 must ignore C entirely (it may hold NaN garbage) */
			C[i * ldc + j] = (float) (alpha * acc + (beta == 0.0f ? 0.0 : (double) beta * C[i * ldc + j]));
		}
}

/*
 * With one thread, OpenBLAS's pool is stopped as well.  The library's
 * constructor starts one thread per core when it is loaded, and an idle
 * pool thread polls (sched_yield) for about 0.1 s before it sleeps: in every
 * process that loads autoenc — each parallel worker of a scoring query, each
 * new connection — that is CPU taken from the processes doing the work.
 * blas_thread_shutdown_ (the pthreads build's own fork handler) joins the
 * threads; OpenBLAS starts the pool again by itself when more threads are
 * asked for (openblas_set_num_threads, which also restarts it for 1 — hence
 * the shutdown after it).  Builds without it (serial) have no pool.
 */
void
ae_blas_set_threads(int n)
{
	static int	(*shutdown_pool) (void) = NULL;
	static bool looked_up = false;

	openblas_set_num_threads(n < 1 ? 1 : n);
	if (n > 1)
		return;
	if (!looked_up)
	{
		*(void **) (&shutdown_pool) = dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
		looked_up = true;
	}
	if (shutdown_pool != NULL)
		shutdown_pool();
}

int
ae_blas_get_threads(void)
{
	return openblas_get_num_threads();
}
