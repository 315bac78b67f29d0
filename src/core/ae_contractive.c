/*
 * ae_contractive.c — the contractive penalty (not implemented yet).
 */
#include "ae_nn_int.h"

size_t
ae_contractive_layout(const AeModel *model, int samples, int max_batch,
					  AeWorkspace *ws, float *base)
{
	(void) model;
	(void) samples;
	(void) max_batch;
	(void) ws;
	(void) base;
	return 0;
}

double
ae_contractive(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			   const float *x, int B, float *grad, AeRng *rng)
{
	(void) model;
	(void) ws;
	(void) obj;
	(void) x;
	(void) B;
	(void) grad;
	(void) rng;
	return 0.0;
}
