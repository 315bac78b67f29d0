/*
 * ae_nn.h — the autoencoder network: architecture, parameters, forward and
 * backward passes, losses and the regularisers that make the variants
 * (undercomplete, sparse L1 / KL, denoising, contractive).
 *
 * Shape legend used in comments throughout the core:
 *   B  rows in a batch            d  input (= output) width
 *   L  weight layers (= n_hidden + 1)
 *   dims[l] → dims[l+1]           the l-th weight layer's in/out widths
 *
 * Network: x (d) → h1 → … → hk → x̂ (d).  Weight layer l computes
 *   z_l = a_{l-1} W_lᵀ + b_l,  a_l = f_l(z_l),   a_{-1} = x
 * with W_l stored out×in row-major, exactly like PyTorch's nn.Linear, so
 * weights move between the two without transposition.  The code (bottleneck)
 * is a_{code_layer}: the output of weight layer code_layer.  The encoder is
 * layers 0..code_layer, the decoder code_layer+1..L-1.
 */
#ifndef AE_NN_H
#define AE_NN_H

#include "ae_core.h"
#include "ae_rng.h"

#define AE_MAX_HIDDEN	15		/* hidden layers; so at most 16 weight layers */
#define AE_MAX_WIDTH	65536	/* any one layer, input width included */

typedef enum AeActivation
{
	AE_ACT_LINEAR = 0,
	AE_ACT_SIGMOID,
	AE_ACT_TANH,
	AE_ACT_RELU,
	AE_ACT_LEAKY_RELU,			/* slope 0.01 below zero (PyTorch default) */
	AE_ACT_ELU					/* alpha 1.0 (PyTorch default) */
} AeActivation;

typedef enum AeLoss
{
	AE_LOSS_MSE = 0,			/* mean over all B·d elements: nn.MSELoss() */
	AE_LOSS_BCE					/* nn.BCELoss() on a sigmoid output */
} AeLoss;

typedef enum AeNoise
{
	AE_NOISE_NONE = 0,
	AE_NOISE_GAUSSIAN,			/* x + N(0, noise_level²), in normalised units */
	AE_NOISE_MASK				/* each element zeroed with probability noise_level */
} AeNoise;

/* The shape of a network: everything needed to rebuild it from its weights. */
typedef struct AeArch
{
	int			n_inputs;		/* d */
	int			n_hidden;		/* k >= 1 */
	int			hidden[AE_MAX_HIDDEN];	/* widths h1..hk */
	AeActivation hidden_act[AE_MAX_HIDDEN]; /* activation of each hidden layer */
	AeActivation output_act;	/* AE_ACT_LINEAR or AE_ACT_SIGMOID */
	int			code_layer;		/* 0-based index into hidden[] */
	bool		tied;			/* decoder layer L-1-l uses W_lᵀ of encoder layer l */
} AeArch;

/*
 * Fill *arch for an input width and hidden widths; every hidden layer gets
 * activation act, the output gets output_act, code_layer becomes the
 * narrowest hidden layer (the middle one on ties).
 */
void		ae_arch_make(AeArch *arch, int n_inputs, int n_hidden, const int *hidden,
						 AeActivation act, AeActivation output_act, bool tied);

/*
 * AE_OK or AE_ERR_CONFIG with a message in errbuf (AE_ERRBUF_SIZE bytes; may
 * be NULL) naming the problem: widths out of range, too many layers,
 * code_layer out of range, output activation not linear/sigmoid, tied
 * weights on an asymmetric net (tied needs hidden[] to be a palindrome and
 * code_layer its middle).
 */
AeStatus	ae_arch_validate(const AeArch *arch, char *errbuf);

/*
 * The widest layer, the input included: every row of activations, deltas
 * or scratch fits in this many floats.
 */
int			ae_arch_widest(const AeArch *arch);

/* Number of floats of the parameter buffer (tied decoder layers own only biases). */
size_t		ae_arch_param_count(const AeArch *arch);

/*
 * A network bound to a parameter buffer.  params holds, for each weight
 * layer l in order, W_l (dims[l+1] × dims[l], absent for tied decoder
 * layers) then b_l (dims[l+1]).  Gradient buffers use the same layout, so
 * the optimiser can treat parameters as one flat vector.
 */
typedef struct AeModel
{
	AeArch		arch;
	int			n_layers;		/* L = n_hidden + 1 */
	int			dims[AE_MAX_HIDDEN + 2];	/* dims[0] = d, …, dims[L] = d */
	AeActivation act[AE_MAX_HIDDEN + 1];	/* activation of weight layer l */
	size_t		n_params;
	float	   *params;
	/* views into params */
	float	   *W[AE_MAX_HIDDEN + 1];	/* tied decoder layers: the encoder twin's W */
	bool		W_tied[AE_MAX_HIDDEN + 1];	/* true: W[l] is used transposed */
	float	   *b[AE_MAX_HIDDEN + 1];
	/* offsets of W[l] / b[l] inside params (W_off = -1 for tied layers) */
	long		W_off[AE_MAX_HIDDEN + 1];
	long		b_off[AE_MAX_HIDDEN + 1];
	/* softmax groups of a mixed-type model (ae_groups.h), or NULL */
	const struct AeGroups *groups;
} AeModel;

/* Bind *model to arch and a caller-owned buffer of ae_arch_param_count floats. */
AeStatus	ae_model_bind(AeModel *model, const AeArch *arch, float *params, char *errbuf);

/*
 * Initialise weights from seed: Glorot/Xavier uniform for linear, sigmoid
 * and tanh layers, He (Kaiming) uniform for the ReLU family; biases zero.
 * Same seed → bit-identical parameters.
 */
void		ae_model_init_weights(AeModel *model, uint64_t seed);

/*
 * Options of the objective: the reconstruction loss and the regularisers
 * that turn a plain autoencoder into the sparse, denoising and contractive
 * variants.  Every field is used; zero switches a regulariser off.
 */
typedef struct AeObjective
{
	AeLoss		loss;
	float		l1_activity;	/* λ: λ · (1/B) Σ_b Σ_j |a_bj| over the code */
	float		sparsity_weight;	/* β: β · Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j batch mean code activation
									 * clamped into [1e-7, 1 - 1e-7] (no gradient when clamped) */
	float		sparsity_target;	/* ρ in (0, 1); KL needs a sigmoid code layer */
	float		contractive;	/* γ: γ · (1/B) Σ_b ‖∂code/∂x(x_b)‖²_F */
	int			contractive_samples;	/* 0: exact; k > 0: k random ±1 projections per row
										 * (deep encoders; a one-layer encoder is always exact) */
	AeNoise		noise;			/* denoising: corrupt the input, keep the target clean */
	float		noise_level;
} AeObjective;

void		ae_objective_defaults(AeObjective *obj);

/*
 * AE_OK or AE_ERR_CONFIG with a message (e.g. KL on a non-sigmoid code
 * layer, BCE without sigmoid output, weights negative or not finite,
 * sparsity_target or noise_level outside (0, 1)).
 */
AeStatus	ae_objective_validate(const AeObjective *obj, const AeModel *model, char *errbuf);

/* The parts of a batch loss; total = recon + l1 + kl + contractive. */
typedef struct AeLossParts
{
	double		total;
	double		recon;
	double		l1;
	double		kl;
	double		contractive;
} AeLossParts;

/*
 * Scratch memory for forward/backward on batches of up to max_batch rows:
 * activations and deltas of every layer (and the tangent buffers of the
 * contractive penalty when obj->contractive > 0; obj may be NULL for none).
 * One allocation; NULL when it fails or max_batch < 1.  A workspace serves
 * objectives with the same contractive settings (on or off, and
 * contractive_samples) as the one it was made for; ae_loss_grad returns
 * AE_ERR_CONFIG otherwise.
 */
typedef struct AeWorkspace AeWorkspace;

AeWorkspace *ae_workspace_create(const AeModel *model, const AeObjective *obj,
								 int max_batch, const AeAllocator *al);
void		ae_workspace_destroy(AeWorkspace *ws, const AeAllocator *al);

/*
 * Denoising corruption of n floats: out = corrupt(in).  Draws from rng in
 * index order: gaussian takes ae_rng_normal_floats's normals (one draw each,
 * a few more in the ziggurat's rare rejections), mask one 64-bit draw per
 * pair of elements (two 32-bit uniforms); with AE_NOISE_NONE copies and
 * draws nothing.  in and out may be the same buffer.
 */
void		ae_corrupt(const AeObjective *obj, AeRng *rng, const float *in, float *out, size_t n);

/*
 * Loss and gradient of one batch.  x_in (B×d) is what the network sees
 * (already corrupted for denoising), x_target (B×d) what it must reproduce.
 * grad (n_params) is overwritten.  Weight decay is not included (the
 * optimiser applies it, with PyTorch's coupled/decoupled semantics).
 * rng is used only by the contractive random-projection estimator (B·k
 * directions of d random signs, row by row, ⌈d/64⌉ draws each; see
 * ae_contractive.c), and may be NULL otherwise.  parts may be NULL.  Returns AE_ERR_CONFIG when B is not
 * in [1, max_batch] or ws does not fit obj, AE_ERR_NONFINITE when the loss
 * is not finite (parts are still filled in).
 */
AeStatus	ae_loss_grad(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
						 const float *x_in, const float *x_target, int B,
						 float *grad, AeLossParts *parts, AeRng *rng);

/*
 * A batch spread over several parts (the shards of a sharded training),
 * with the sparsity penalty (KL) of the whole batch, whose ρ̂ is a mean
 * over all its rows.  ae_code_sums forwards a part's B rows (B may be 0)
 * through the encoder and adds up each code unit's activations (sums: the
 * code width's doubles).  The caller adds the sums of every part and
 * divides by the batch's rows; with that code_mean, ae_loss_grad_part is
 * ae_loss_grad of the part except that the KL term is the whole batch's:
 * its value, and a gradient such that the parts' gradients, each times its
 * B, add up to the batch's gradient times the batch's rows.  code_mean NULL
 * is ae_loss_grad.  encoded: nothing has used ws since ae_code_sums ran on
 * these same rows, whose encoder activations it still holds; the forward
 * pass is not run through the encoder again.
 */
AeStatus	ae_code_sums(const AeModel *model, AeWorkspace *ws, const float *x_in, int B,
						 double *sums);
AeStatus	ae_loss_grad_part(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
							  const float *x_in, const float *x_target, int B,
							  const double *code_mean, bool encoded, float *grad,
							  AeLossParts *parts, AeRng *rng);

/*
 * ae_loss_grad_part in two stages, so that a shard can send a part of its
 * gradient while it computes the rest: ae_loss_grad_begin runs the forward
 * pass, the loss and the backward pass of weight layers L-1 down to split
 * (1 <= split < L), after which the gradient of the parameters from
 * ae_grad_final_from(model, split) on is final (rng: none, so not the
 * contractive penalty's random projections); ae_loss_grad_finish runs the
 * rest of the backward pass into the same grad, nothing else having used
 * ws, x_in or grad in between.  The two give ae_loss_grad_part's gradient
 * bit for bit.  AE_ERR_CONFIG for a split out of range, or a finish with no
 * begin before it.
 */
AeStatus	ae_loss_grad_begin(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
							   const float *x_in, const float *x_target, int B,
							   const double *code_mean, bool encoded, float *grad,
							   AeLossParts *parts, int split);
AeStatus	ae_loss_grad_finish(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
								float *grad);

/*
 * The first parameter that only weight layers layer.. L-1 own (their W,
 * unless tied to an encoder layer's, and their b): the parameters from there
 * to the end have their whole gradient once the backward pass has run
 * through those layers.
 */
size_t		ae_grad_final_from(const AeModel *model, int layer);

/* The same loss without the gradient (validation). */
AeStatus	ae_loss_only(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
						 const float *x_in, const float *x_target, int B,
						 AeLossParts *parts, AeRng *rng);

/*
 * Inference.  Runs B row-major rows through weight layers [from, to):
 * in is B×dims[from], out is B×dims[to]; scratch holds at least
 * ae_forward_scratch_size(model, B) floats.  One GEMM per layer.
 *   encode      = [0, code_layer + 1)
 *   decode      = [code_layer + 1, L)
 *   reconstruct = [0, L)
 * in and out must not overlap scratch; out may not alias in.
 */
size_t		ae_forward_scratch_size(const AeModel *model, int B);
void		ae_forward_range(const AeModel *model, int from, int to,
							 const float *in, int B, float *out, float *scratch);

/*
 * Per-element squared error of B rows: err[b·d + j] = (x̂_bj - x_bj)²;
 * scratch as for ae_forward_range(model, 0, L, …).
 */
void		ae_feature_sqerr(const AeModel *model, const float *x, int B, float *err, float *scratch);

/*
 * The reconstruction error of each of B rows: the mean squared error over
 * its d inputs, normalised space; for a mixed model the weighted slot mean
 * of ae_groups.h.  sq: B·d floats of scratch, scratch as for
 * ae_forward_range(model, 0, L, …).
 */
void		ae_row_errors(const AeModel *model, const float *x, int B, float *errors,
						  float *sq, float *scratch);

/* The width of the code layer. */
static inline int
ae_code_width(const AeModel *model)
{
	return model->dims[model->arch.code_layer + 1];
}

/*
 * The canonical name ("unknown" for a value outside the enumeration), and
 * the parse of a user's spelling by the rule of ae_names.h (ASCII case
 * ignored); false if unknown.  Defined in ae_names.c over its table.
 */
const char *ae_activation_name(AeActivation act);
bool		ae_activation_parse(const char *name, AeActivation *act);

#endif							/* AE_NN_H */
