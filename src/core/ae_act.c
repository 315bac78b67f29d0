/*
 * ae_act.c — activation functions forward, first and second derivatives,
 * with PyTorch's definitions (LeakyReLU slope 0.01, ELU alpha 1).
 *
 * Shapes: B rows × n units, row-major; bias and db have n entries.
 */
#include "ae_act.h"

#include <math.h>

/* Numerically stable logistic: never evaluates exp of a large positive number. */
static inline float
Sigmoid(float z)
{
	float		e = expf(-fabsf(z));
	float		s = 1.0f / (1.0f + e);

	return z >= 0.0f ? s : e * s;
}

void
ae_act_forward(AeActivation act, float *za, const float *bias, int B, int n)
{
	/* za: (B, n) in: z without bias, out: a = f(z + bias) */
	for (int r = 0; r < B; r++)
	{
		float	   *row = za + (size_t) r * n;

		switch (act)
		{
			case AE_ACT_LINEAR:
				for (int j = 0; j < n; j++)
					row[j] += bias[j];
				break;
			case AE_ACT_SIGMOID:
				for (int j = 0; j < n; j++)
					row[j] = Sigmoid(row[j] + bias[j]);
				break;
			case AE_ACT_TANH:
				for (int j = 0; j < n; j++)
					row[j] = tanhf(row[j] + bias[j]);
				break;
			case AE_ACT_RELU:
				for (int j = 0; j < n; j++)
				{
					float		z = row[j] + bias[j];

					row[j] = z > 0.0f ? z : 0.0f;
				}
				break;
			case AE_ACT_LEAKY_RELU:
				for (int j = 0; j < n; j++)
				{
					float		z = row[j] + bias[j];

					row[j] = z > 0.0f ? z : AE_LEAKY_SLOPE * z;
				}
				break;
			case AE_ACT_ELU:
				for (int j = 0; j < n; j++)
				{
					float		z = row[j] + bias[j];

					row[j] = z > 0.0f ? z : AE_ELU_ALPHA * expm1f(z);
				}
				break;
		}
	}
}

void
ae_act_backward(AeActivation act, float *delta, const float *a, float *db, int B, int n)
{
	/* delta: (B, n) in: ∂loss/∂a, out: ∂loss/∂z;  a: (B, n);  db: (n) += Σ_b ∂loss/∂z */
	for (int r = 0; r < B; r++)
	{
		float	   *dr = delta + (size_t) r * n;
		const float *ar = a + (size_t) r * n;

		switch (act)
		{
			case AE_ACT_LINEAR:
				break;
			case AE_ACT_SIGMOID:
				for (int j = 0; j < n; j++)
					dr[j] *= ar[j] * (1.0f - ar[j]);
				break;
			case AE_ACT_TANH:
				for (int j = 0; j < n; j++)
					dr[j] *= 1.0f - ar[j] * ar[j];
				break;
			case AE_ACT_RELU:
				/* a > 0 exactly when z > 0; the derivative at 0 is 0, as in torch */
				for (int j = 0; j < n; j++)
					dr[j] = ar[j] > 0.0f ? dr[j] : 0.0f;
				break;
			case AE_ACT_LEAKY_RELU:
				for (int j = 0; j < n; j++)
					dr[j] = ar[j] > 0.0f ? dr[j] : AE_LEAKY_SLOPE * dr[j];
				break;
			case AE_ACT_ELU:
				/* below zero f'(z) = α eᶻ = a + α */
				for (int j = 0; j < n; j++)
					dr[j] = ar[j] > 0.0f ? dr[j] : dr[j] * (ar[j] + AE_ELU_ALPHA);
				break;
		}
		if (db)
			for (int j = 0; j < n; j++)
				db[j] += dr[j];
	}
}

void
ae_act_derivs(AeActivation act, const float *a, float *d1, float *d2, size_t count)
{
	/* a, d1, d2: (count) */
	switch (act)
	{
		case AE_ACT_LINEAR:
			for (size_t i = 0; i < count; i++)
				d1[i] = 1.0f;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_SIGMOID:
			/* f' = a(1-a), f'' = f'(1-2a) */
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] * (1.0f - a[i]);
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = d1[i] * (1.0f - 2.0f * a[i]);
			break;
		case AE_ACT_TANH:
			/* f' = 1-a², f'' = -2a f' */
			for (size_t i = 0; i < count; i++)
				d1[i] = 1.0f - a[i] * a[i];
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = -2.0f * a[i] * d1[i];
			break;
		case AE_ACT_RELU:
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : 0.0f;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_LEAKY_RELU:
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : AE_LEAKY_SLOPE;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_ELU:
			/* below zero f' = f'' = α eᶻ = a + α; above, f' = 1, f'' = 0 */
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : a[i] + AE_ELU_ALPHA;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = a[i] > 0.0f ? 0.0f : a[i] + AE_ELU_ALPHA;
			break;
	}
}
