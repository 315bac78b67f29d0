/*
 * nn_naive.h — a slow, obviously-correct double-precision model of the
 * network and its objective, written from the formulas and sharing no code
 * with the core.  The unit tests compare the core against it.
 *
 * Parameters are a double copy of the core's flat vector, read through the
 * layout the core publishes (W_off, b_off, W_tied), so a test can also
 * perturb them in double for finite differences free of float noise.
 */
#ifndef AE_NN_NAIVE_H
#define AE_NN_NAIVE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae_nn.h"

#define NAIVE_MAXW 64			/* widest layer the tests build */

static inline double
NaiveAct(AeActivation act, double z)
{
	switch (act)
	{
		case AE_ACT_LINEAR:
			return z;
		case AE_ACT_SIGMOID:
			return 1.0 / (1.0 + exp(-z));
		case AE_ACT_TANH:
			return tanh(z);
		case AE_ACT_RELU:
			return z > 0 ? z : 0.0;
		case AE_ACT_LEAKY_RELU:
			return z > 0 ? z : 0.01 * z;
		case AE_ACT_ELU:
			return z > 0 ? z : exp(z) - 1.0;
	}
	return NAN;
}

static inline double
NaiveDAct(AeActivation act, double z)
{
	switch (act)
	{
		case AE_ACT_LINEAR:
			return 1.0;
		case AE_ACT_SIGMOID:
			{
				double		s = 1.0 / (1.0 + exp(-z));

				return s * (1.0 - s);
			}
		case AE_ACT_TANH:
			return 1.0 - tanh(z) * tanh(z);
		case AE_ACT_RELU:
			return z > 0 ? 1.0 : 0.0;
		case AE_ACT_LEAKY_RELU:
			return z > 0 ? 1.0 : 0.01;
		case AE_ACT_ELU:
			return z > 0 ? 1.0 : exp(z);
	}
	return NAN;
}

/* Element (j, i) (output j, input i) of weight layer l's effective matrix. */
static inline double
NaiveW(const AeModel *m, const double *p, int l, int j, int i)
{
	int			n_in = m->dims[l];
	int			n_out = m->dims[l + 1];

	if (m->W_tied[l])
		return p[m->W_off[m->n_layers - 1 - l] + (long) i * n_out + j];
	return p[m->W_off[l] + (long) j * n_in + i];
}

/* Forward one row: z[l][·] and a[l][·] for every weight layer l. */
static inline void
NaiveForward(const AeModel *m, const double *p, const float *x,
			 double z[][NAIVE_MAXW], double a[][NAIVE_MAXW])
{
	for (int l = 0; l < m->n_layers; l++)
		for (int j = 0; j < m->dims[l + 1]; j++)
		{
			double		acc = p[m->b_off[l] + j];

			for (int i = 0; i < m->dims[l]; i++)
				acc += NaiveW(m, p, l, j, i) * (l == 0 ? (double) x[i] : a[l - 1][i]);
			z[l][j] = acc;
			a[l][j] = NaiveAct(m->act[l], acc);
		}
}

/*
 * Squared Frobenius norm of J = ∂a_C/∂x at one row (exact), or when V is
 * not NULL the mean of ‖J v_s‖² over the k rows v_s of V (k×d).
 */
static inline double
NaiveJacobianNorm(const AeModel *m, const double *p, double z[][NAIVE_MAXW],
				  const float *V, int k)
{
	int			d = m->dims[0];
	int			C = m->arch.code_layer;
	int			h = m->dims[C + 1];
	double	   *J = calloc((size_t) NAIVE_MAXW * d, sizeof(double));
	double	   *N = calloc((size_t) NAIVE_MAXW * d, sizeof(double));
	double		total = 0.0;

	/* J starts as the identity (d×d); J ← diag(f'(z_l)) W_l J */
	for (int i = 0; i < d; i++)
		J[i * d + i] = 1.0;
	for (int l = 0; l <= C; l++)
	{
		for (int j = 0; j < m->dims[l + 1]; j++)
			for (int c = 0; c < d; c++)
			{
				double		acc = 0.0;

				for (int i = 0; i < m->dims[l]; i++)
					acc += NaiveW(m, p, l, j, i) * J[i * d + c];
				N[j * d + c] = NaiveDAct(m->act[l], z[l][j]) * acc;
			}
		memcpy(J, N, sizeof(double) * NAIVE_MAXW * d);
	}
	if (V == NULL)
		for (int j = 0; j < h; j++)
			for (int c = 0; c < d; c++)
				total += J[j * d + c] * J[j * d + c];
	else
	{
		for (int s = 0; s < k; s++)
			for (int j = 0; j < h; j++)
			{
				double		jv = 0.0;

				for (int c = 0; c < d; c++)
					jv += J[j * d + c] * V[s * d + c];
				total += jv * jv;
			}
		total /= k;
	}
	free(J);
	free(N);
	return total;
}

/*
 * The whole objective of a batch in double.  V (B·k × d, row b's k vectors
 * together) holds the random projections when the core would use them.
 */
static inline double
NaiveLoss(const AeModel *m, const double *p, const AeObjective *obj,
		  const float *x_in, const float *x_t, int B, const float *V, AeLossParts *parts)
{
	int			L = m->n_layers;
	int			C = m->arch.code_layer;
	int			d = m->dims[0];
	int			h = m->dims[C + 1];
	int			k = obj->contractive_samples;
	bool		proj = C > 0 && k > 0;
	double		z[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
	double		a[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
	double		recon = 0.0,
				l1 = 0.0,
				kl = 0.0,
				cp = 0.0;
	double		mean[NAIVE_MAXW] = {0};

	for (int b = 0; b < B; b++)
	{
		NaiveForward(m, p, x_in + (size_t) b * d, z, a);
		for (int i = 0; i < d; i++)
		{
			double		y = x_t[(size_t) b * d + i];
			double		q = a[L - 1][i];

			if (obj->loss == AE_LOSS_MSE)
				recon += (q - y) * (q - y);
			else
				recon -= y * fmax(log(q), -100.0) + (1.0 - y) * fmax(log(1.0 - q), -100.0);
		}
		for (int j = 0; j < h; j++)
		{
			l1 += fabs(a[C][j]);
			mean[j] += a[C][j];
		}
		if (obj->contractive > 0.0f)
			cp += NaiveJacobianNorm(m, p, z, proj ? V + (size_t) b * k * d : NULL, k);
	}
	recon /= (double) B * d;
	l1 *= (double) obj->l1_activity / B;
	if (obj->sparsity_weight > 0.0f)
	{
		double		rho = obj->sparsity_target;

		for (int j = 0; j < h; j++)
		{
			double		r = fmin(fmax(mean[j] / B, 1e-7), 1.0 - 1e-7);

			kl += rho * log(rho / r) + (1.0 - rho) * log((1.0 - rho) / (1.0 - r));
		}
		kl *= obj->sparsity_weight;
	}
	cp *= (double) obj->contractive / B;
	if (parts)
	{
		parts->recon = recon;
		parts->l1 = l1;
		parts->kl = kl;
		parts->contractive = cp;
		parts->total = recon + l1 + kl + cp;
	}
	return recon + l1 + kl + cp;
}

#endif							/* AE_NN_NAIVE_H */
