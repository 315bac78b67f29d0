/*
 * ae_loss.c — the reconstruction losses and the sparsity regularisers of
 * the code layer: each one's value and its gradient with respect to the
 * activations it reads.  The batch objective that combines them with the
 * network's forward and backward passes is ae_objective.c.
 *
 * Every formula is the one PyTorch computes, so that a reference script
 * written with torch.nn gets the same numbers:
 *   mse   nn.MSELoss()                         mean of (x̂ - x)² over B·d
 *   bce   nn.BCELoss() on a sigmoid output     mean of -(x log x̂ + (1-x) log(1-x̂)),
 *                                              each log clamped at -100
 *   l1    λ · (1/B) Σ_b Σ_j |a_bj|             code activations a; ∂|a| = sign(a), 0 at 0
 *   kl    β · Σ_j ρ log(ρ/ρ̂_j) + (1-ρ) log((1-ρ)/(1-ρ̂_j)),
 *         ρ̂_j = clamp((1/B) Σ_b a_bj, 1e-7, 1 - 1e-7)
 *         (the clamp keeps the logs finite when a whole batch saturates a
 *         unit; like torch.clamp, no gradient flows through a clamped ρ̂_j)
 *
 * Shape legend: B rows, d input width, h code width.
 */
#include <math.h>
#include <stdbool.h>

#include "ae_nn_int.h"
#include "ae_simd.h"

#define AE_KL_CLAMP		1e-7	/* ρ̂ is kept in [AE_KL_CLAMP, 1 - AE_KL_CLAMP] */
#define AE_BCE_LOG_MIN	-100.0	/* torch's clamp of log(x̂) and log(1-x̂) */
#define AE_BCE_EPS		1e-12f	/* torch's floor of x̂(1-x̂) in the BCE gradient */

/* ---------------------------------------------------------------- losses */

/*
 * Reconstruction loss of xhat against x (n = B·d floats each), and when
 * dxhat is not NULL, ∂loss/∂x̂ written into it in the same pass.
 */
double
ae_recon_loss(AeLoss loss, const float *xhat, const float *x, size_t n, float *dxhat)
{
	double		sum = 0.0;

	if (loss == AE_LOSS_MSE)
	{
		/*
		 * Squares summed four lanes at a time in float over blocks of 16
		 * elements, then in double: a short float run keeps the rounding
		 * error near one ulp, and the double adds no longer form one long
		 * dependency chain through the whole batch.
		 */
		float		scale = (float) (2.0 / (double) n);
		AeVf4		vscale = AE_SPLAT(AeVf4, scale);
		size_t		i = 0;

		for (; i + 4 * 4 <= n; i += 4 * 4)
		{
			AeVf4		acc = AE_SPLAT(AeVf4, 0.0f);

			for (int k = 0; k < 4; k++)
			{
				AeVf4		e = AeLoad4(xhat + i + k * 4) - AeLoad4(x + i + k * 4);

				acc += e * e;
				if (dxhat)
					AeStore4(dxhat + i + k * 4, vscale * e);
			}
			sum += AeSum4(acc);
		}
		for (; i < n; i++)
		{
			float		e = xhat[i] - x[i];

			sum += (double) e * e;
			if (dxhat)
				dxhat[i] = scale * e;
		}
	}
	else
	{
		float		inv_n = (float) (1.0 / (double) n);

		for (size_t i = 0; i < n; i++)
		{
			double		p = xhat[i];
			double		y = x[i];
			double		lp = fmax(log(p), AE_BCE_LOG_MIN);
			double		lq = fmax(log1p(-p), AE_BCE_LOG_MIN);

			sum -= y * lp + (1.0 - y) * lq;
			if (dxhat)
			{
				/* torch divides by max(x̂(1-x̂), 1e-12): a saturated x̂ gets gradient 0 after the sigmoid */
				float		pf = xhat[i];
				float		pq = (1.0f - pf) * pf;

				dxhat[i] = inv_n * (pf - x[i]) / (pq > AE_BCE_EPS ? pq : AE_BCE_EPS);
			}
		}
	}
	return sum / (double) n;
}

/* λ·(1/B)Σ|a| over the code activations a (B×h). */
double
ae_l1_penalty(float lambda, const float *a, size_t n, int B)
{
	double		sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += fabsf(a[i]);
	return lambda * sum / B;
}

/*
 * β·Σ_j KL(ρ‖ρ̂_j) of the code activations a (B×h); fills kl_grad (h) with
 * ∂KL/∂a_bj, which does not depend on b.  ρ̂_j is the mean of column j of
 * a, or rho_hat[j] when rho_hat is not NULL: the mean over a whole batch of
 * which a holds B rows (a sharded training's shard), whose gradient then is
 * that of the whole batch's penalty, per row of a part averaged over B rows.
 */
double
ae_kl_penalty(float beta, float rho_f, const float *a, int B, int h, const double *rho_hat_in,
			  float *kl_grad)
{
	double		rho = rho_f;
	double		total = 0.0;

	for (int j = 0; j < h; j++)
	{
		double		rho_hat;
		bool		clamped = false;

		if (rho_hat_in)
			rho_hat = rho_hat_in[j];
		else
		{
			double		mean = 0.0;

			for (int b = 0; b < B; b++)
				mean += a[(size_t) b * h + j];
			rho_hat = mean / B;
		}
		if (rho_hat < AE_KL_CLAMP)
		{
			rho_hat = AE_KL_CLAMP;
			clamped = true;
		}
		else if (rho_hat > 1.0 - AE_KL_CLAMP)
		{
			rho_hat = 1.0 - AE_KL_CLAMP;
			clamped = true;
		}
		total += rho * log(rho / rho_hat) + (1.0 - rho) * log((1.0 - rho) / (1.0 - rho_hat));
		if (kl_grad)
			kl_grad[j] = clamped ? 0.0f :
				(float) (beta * (-rho / rho_hat + (1.0 - rho) / (1.0 - rho_hat)) / B);
	}
	return beta * total;
}

/* ---------------------------------------------------------------- code-layer gradients */

/*
 * d (B×h) += ∂(l1 + kl)/∂a at the code layer: l1_scale·sign(a) (sign(0) =
 * 0, as torch.abs's gradient) and kl_grad[j] (the same for every row);
 * l1_scale 0 or kl_grad NULL leave that term out.  Branch-free: the signs
 * of activations are as good as random.
 */
void
ae_code_penalty_backward(float *d, const float *a, int B, int h, float l1_scale, const float *kl_grad)
{
	AeVf4		s = AE_SPLAT(AeVf4, l1_scale);

	for (int b = 0; b < B; b++)
	{
		float	   *dr = d + (size_t) b * h;
		const float *ar = a + (size_t) b * h;
		int			j = 0;

		for (; j + 4 <= h; j += 4)
		{
			AeVf4		av = AeLoad4(ar + j);
			AeVf4		g = AeLoad4(dr + j);

			if (l1_scale != 0.0f)
				g += AeSelect4(av > AE_SPLAT(AeVf4, 0.0f), s, AE_SPLAT(AeVf4, 0.0f)) - AeSelect4(av < AE_SPLAT(AeVf4, 0.0f), s, AE_SPLAT(AeVf4, 0.0f));
			if (kl_grad)
				g += AeLoad4(kl_grad + j);
			AeStore4(dr + j, g);
		}
		for (; j < h; j++)
		{
			if (l1_scale != 0.0f)
				dr[j] += (float) (ar[j] > 0.0f) * l1_scale - (float) (ar[j] < 0.0f) * l1_scale;
			if (kl_grad)
				dr[j] += kl_grad[j];
		}
	}
}
