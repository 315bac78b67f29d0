/*
 * ae_groups.h — mixed-type inputs: softmax groups beside plain inputs.
 *
 * A mixed model's input row is still d floats, laid out by the SQL layer as
 *   [ plain inputs 0 .. P-1 | group 0 | group 1 | … ]
 * A plain input is a number (a numeric column, a date feature, a missing
 * indicator) reconstructed through the output activation with a squared
 * error or BCE loss, as in a numeric model.  A group is the one-hot block
 * of one categorical column: K >= 2 inputs of which exactly one is 1 in a
 * clean row.  Its K outputs are logits; the reconstruction is their softmax
 * and the loss the cross-entropy against the one-hot input.
 *
 * Slots: every plain input and every group is one slot, s = 0 .. S-1
 * (plain inputs first, then groups, in input order), with a weight w_s > 0.
 * The reconstruction loss of a row is the weighted mean over its slots
 *   ℓ(row) = Σ_s w_s ℓ_s / Σ_s w_s
 *   ℓ_s    = (y_j - x_j)² or BCE(y_j, x_j)          plain input j, y = f_out(z)
 *          = CE_g / ln K_g = -log softmax(z_g)_hot / ln K_g     group g
 * and a batch's loss the mean over its rows.  Dividing a group's
 * cross-entropy by ln K makes a uniform guess cost 1, what predicting the
 * mean of a z-scored number costs: so with every weight 1 a categorical
 * column weighs as much as a numeric one.  Without groups and with unit
 * weights this is exactly the numeric models' mean over B·d.
 *
 * The network: ae_model_set_groups() binds groups to a model.  From then on
 * the last layer's outputs are raw (linear): logits for the groups, and the
 * plain outputs before the output activation, which ae_groups_finish()
 * applies.  The first layer reads a group as a gather: for every nonzero
 * input of a group only its weight column is added (a one-hot block is one
 * column lookup, not a dense multiply by K - 1 zeros), and its backward
 * pass scatters into those columns.  Denoising corrupts plain inputs only
 * (ae_keep_groups_clean): a group stays one-hot.  Groups are never
 * normalised (offset 0, scale 1).
 */
#ifndef AE_GROUPS_H
#define AE_GROUPS_H

#include "ae_nn.h"

typedef struct AeGroup
{
	int			start;			/* first input of the block */
	int			width;			/* K >= 2 */
} AeGroup;

typedef struct AeGroups
{
	int			n_plain;		/* P: inputs [0, P) are plain */
	int			n_groups;		/* >= 0; groups tile [P, d) in order */
	AeGroup    *groups;
	float	   *weights;		/* S = P + n_groups slot weights, each > 0 and finite */
} AeGroups;

static inline int
ae_groups_slots(const AeGroups *g)
{
	return g->n_plain + g->n_groups;
}

/*
 * A model has slots when it has any (P + n_groups > 0): a mixed-type model
 * without categorical columns has plain slots only, and with them its
 * per-column weights.  All zero: a numeric model, none.
 */
static inline bool
ae_groups_present(const AeGroups *g)
{
	return g != NULL && ae_groups_slots(g) > 0;
}

/*
 * AE_OK, or AE_ERR_CONFIG with a message naming the problem: the groups
 * must tile [n_plain, d) in order (no group: n_plain = d), each at least 2
 * wide, and every weight be finite and > 0.
 */
AeStatus	ae_groups_validate(const AeGroups *g, int d, char *errbuf);

/*
 * Bind validated groups to a model (not copied: they must outlive it).
 * Sets the last layer to raw outputs (see above); arch.output_act stays the
 * activation of the plain outputs.  A model whose output activation is
 * neither linear nor sigmoid is refused by ae_arch_validate already.
 */
AeStatus	ae_model_set_groups(AeModel *model, const AeGroups *g, char *errbuf);

/*
 * The reconstruction loss of B rows from raw outputs z (B×d) against
 * targets x (B×d), as defined above; when dz is not NULL, ∂loss/∂z (B×d).
 * loss is the plain inputs' element loss (mse or bce).
 */
double		ae_groups_recon_loss(const AeGroups *g, AeLoss loss, AeActivation output_act,
								 const float *z, const float *x, int B, int d, float *dz);

/*
 * Per-slot errors of B rows: err (B×S) gets w_s·e_s, where e_s is the
 * squared error of a plain input after the output activation (whatever the
 * training loss, as numeric models' errors are) and CE/ln K of a group.  A
 * row's error is the sum of its slots divided by ae_groups_weight_sum().
 */
void		ae_groups_slot_errors(const AeGroups *g, AeActivation output_act,
								  const float *z, const float *x, int B, int d, float *err);

/* The row errors (B): each row's slot errors summed and divided by Σ w_s. */
void		ae_groups_row_errors(const AeGroups *g, AeActivation output_act,
								 const float *z, const float *x, int B, int d, float *errors);

double		ae_groups_weight_sum(const AeGroups *g);

/*
 * Raw outputs z (B×d) into the reconstruction, in place: the output
 * activation on plain outputs, a softmax over each group.
 */
void		ae_groups_finish(const AeGroups *g, AeActivation output_act, float *z, int B, int d);

/* x (B×d): copy every group block back from clean (B×d) after corruption. */
void		ae_keep_groups_clean(const AeGroups *g, const float *clean, float *x, int B, int d);

/*
 * The first weight layer with groups (ae_nn.c calls these for layer 0 of a
 * grouped model): out (B×O) = in W₀ᵀ without bias or activation, plain
 * inputs by one GEMM, groups by gathering W₀'s columns of their nonzero
 * inputs; and dW₀ (O×d) += dzᵀ in the same way.
 */
void		ae_groups_first_forward(const AeGroups *g, const float *W, const float *in,
									int B, int d, int O, float *out);
void		ae_groups_first_backward(const AeGroups *g, const float *dz, const float *in,
									 int B, int d, int O, float *dW);

/*
 * The same first layer for one row with the packed (d×O, row-major) weights
 * of ae_infer.h: z (O) += Σ over the groups' nonzero inputs of v · P[j].
 */
void		ae_groups_first_row(const AeGroups *g, const float *packed, const float *in,
								int O, float *z);

#endif							/* AE_GROUPS_H */
