/*
 * ae_grad_state.h — the partial states that travel between the servers of a
 * sharded training (doc/scaling.md): weights snapshots sent to the shards,
 * gradient sums, evaluations and column statistics sent back.
 *
 * One format for all of them, little-endian, a fixed 56-byte header then
 * three arrays:
 *
 *   0  u32 magic "AEGS"     4  u16 version      6  u16 kind
 *   8  u32 total length    12  u32 CRC-32C of bytes 0..11 xor that of 16 .. length
 *  16  u64 snapshot identity
 *  24  i32 epoch           28  i32 batch       32  i64 rows
 *  40  u32 n_ints          44  u32 n_doubles   48  u32 n_floats   52 u32 0
 *  56  n_ints int32, n_doubles float64, n_floats float32
 *
 * ae_grad_state_parse checks, in this order and before anything is sized
 * from the input: the header fits, magic, version, kind, the stated length
 * equals the buffer's, the counts fit that length, the reserved word, the
 * CRC, a non-negative row count and finite doubles and floats.  The kind's
 * own rules (parameter counts, snapshot identities) are the caller's.
 */
#ifndef AE_GRAD_STATE_H
#define AE_GRAD_STATE_H

#include "ae_core.h"
#include "ae_nn.h"

#define AE_GS_MAGIC		0x53474541u /* "AEGS" read little-endian */
#define AE_GS_VERSION	1
#define AE_GS_HEADER	56
/* no array of a partial state is longer: 2^28 elements (1 GiB of floats) */
#define AE_GS_MAX_COUNT	(1u << 28)

typedef enum AeGradStateKind
{
	AE_GS_WEIGHTS = 1,			/* ints: architecture; doubles: objective; floats: parameters */
	AE_GS_GRADIENT = 2,			/* doubles: Σ loss; floats: Σ gradient over the rows */
	AE_GS_EVAL = 3,				/* doubles: Σ loss; floats: per-row errors (or none) */
	AE_GS_STATS = 4,			/* ints: width; doubles: rows, train, val, then count-free
								 * mean/M2/min/max per column */
	AE_GS_CODE = 5				/* doubles: Σ code activations per unit over the rows (the
								 * sparsity penalty's ρ̂ of a batch, ae_code_sums) */
} AeGradStateKind;

/* A parsed (or to-be-written) state: the arrays point into the buffer. */
typedef struct AeGradState
{
	AeGradStateKind kind;
	uint64_t	snapshot;
	int32_t		epoch;
	int32_t		batch;
	int64_t		rows;
	uint32_t	n_ints;
	uint32_t	n_doubles;
	uint32_t	n_floats;
	const int32_t *ints;		/* unaligned in a parsed buffer: read with memcpy */
	const unsigned char *doubles_raw;
	const unsigned char *floats_raw;
} AeGradState;

/* The kind's name, as ae_partial_info shows it ("weights", ..., "code"). */
const char *ae_grad_state_kind_name(AeGradStateKind kind);

/* Bytes of a state with these counts (0 when a count is too large). */
size_t		ae_grad_state_size(uint32_t n_ints, uint32_t n_doubles, uint32_t n_floats);

/*
 * Write a state into out (ae_grad_state_size bytes) from native arrays
 * (any may be NULL when its count is 0); the CRC is computed last.
 */
void		ae_grad_state_write(unsigned char *out, AeGradStateKind kind, uint64_t snapshot,
								int32_t epoch, int32_t batch, int64_t rows,
								const int32_t *ints, uint32_t n_ints,
								const double *doubles, uint32_t n_doubles,
								const float *floats, uint32_t n_floats);

/*
 * Where ae_grad_state_write puts the floats of a state with these counts
 * in out, when that is a plain array of native floats (a little-endian
 * machine), else NULL.  A caller may compute its floats there and pass the
 * same pointer to ae_grad_state_write, which then copies nothing: a shard
 * writes its gradient of megabytes once.
 */
float	   *ae_grad_state_floats_in_place(unsigned char *out, uint32_t n_ints, uint32_t n_doubles);

/* Check buf (len bytes) and describe it in *gs; AE_ERR_FORMAT with errbuf naming the fault. */
AeStatus	ae_grad_state_parse(const unsigned char *buf, size_t len, AeGradState *gs,
								char *errbuf);

/* Element i of a parsed array, copied out (the arrays may be unaligned). */
int32_t		ae_grad_state_int(const AeGradState *gs, uint32_t i);
double		ae_grad_state_double(const AeGradState *gs, uint32_t i);
void		ae_grad_state_floats(const AeGradState *gs, float *out);
/*
 * sum[i] += float i, for every float of the state (a coordinator merging
 * gradients); first: sum[i] = 0 + float i, so the sum needs no zeroing.
 */
void		ae_grad_state_add_floats(const AeGradState *gs, double *sum, bool first);
/* out[i] = (float) (sum[i] / rows): a merged gradient's mean, or averaged weights. */
void		ae_grad_mean_floats(const double *sum, size_t n, double rows, float *out);

/*
 * A weights snapshot's architecture and objective: ints are
 * [n_inputs, n_hidden, hidden[n_hidden], hidden_act[n_hidden], output_act,
 * code_layer, tied, loss], doubles [l1_activity].
 */
#define AE_GS_ARCH_INTS(n_hidden)	(6 + 2 * (n_hidden))
void		ae_grad_state_arch_ints(const AeArch *arch, AeLoss loss, int32_t *ints);
/* AE_ERR_FORMAT unless the ints make an architecture that ae_arch_validate accepts. */
AeStatus	ae_grad_state_arch(const AeGradState *gs, AeArch *arch, AeLoss *loss, char *errbuf);

#endif							/* AE_GRAD_STATE_H */
