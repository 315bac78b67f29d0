/*
 * ae_onnx_read.c — an ONNX model of a feed-forward autoencoder into a
 * bundle (the accepted graphs are described in ae_onnx.h).
 *
 * Three steps, each trusting only what the previous one checked:
 *   1. unpack: the size is checked first, then protobuf-c unpacks with an
 *      allocator that refuses to go beyond a budget proportional to the
 *      input (a hostile message of tiny nested records must not turn into
 *      gigabytes of structs), then the counts of nodes, tensors, inputs and
 *      outputs are capped so that every later scan is cheap;
 *   2. walk: from the reconstruction output back to the graph input, one
 *      producer at a time, into a chain of nodes; then forward along the
 *      chain into normalisation constants and layers, checking op types,
 *      attributes, shapes and widths — no tensor value is read yet;
 *   3. copy: with the parameter count known and capped, the buffers are
 *      allocated and every value is copied in, checked finite.
 */
#include "ae_onnx.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ae_act.h"
#include "onnx.pb-c.h"

#define MAX_CHAIN		128		/* nodes on the chain, Identity included */
#define MAX_BIAS_PARTS	2		/* Gemm's C and one Add after it */

/* ---------------------------------------------------------------- errors */

typedef struct Reader
{
	const AeAllocator *al;
	AeOnnxProblem problem;
	char	   *errbuf;
	/* protobuf-c's allocations, bounded */
	size_t		budget;
	size_t		used;
	bool		over_budget;
	bool		alloc_failed;	/* the caller's allocator returned NULL */
} Reader;

static bool Fail(Reader *r, AeOnnxProblem problem, const char *fmt,...) __attribute__((format(printf, 3, 4)));

static bool
Fail(Reader *r, AeOnnxProblem problem, const char *fmt,...)
{
	va_list		args;

	r->problem = problem;
	if (r->errbuf)
	{
		va_start(args, fmt);
		vsnprintf(r->errbuf, AE_ERRBUF_SIZE, fmt, args);
		va_end(args);
	}
	return false;
}

/* The allocator failed: AE_ERR_NOMEM, not a problem of the model. */
static bool
NoMem(Reader *r)
{
	r->alloc_failed = true;
	if (r->errbuf)
		snprintf(r->errbuf, AE_ERRBUF_SIZE, "out of memory while reading the ONNX model");
	return false;
}

/*
 * A name from the model, safe to print: at most 40 bytes of printable
 * ASCII (anything else becomes '?'), so that a hostile name can neither
 * flood a message nor put invalid UTF-8 into it.
 */
typedef struct SafeName
{
	char		s[48];
} SafeName;

static SafeName
Safe(const char *name)
{
	SafeName	out;
	size_t		i = 0;

	if (name == NULL || name[0] == '\0')
	{
		strcpy(out.s, "(unnamed)");
		return out;
	}
	for (; name[i] != '\0' && i < 40; i++)
		out.s[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	if (name[i] != '\0')
	{
		memcpy(out.s + i, "...", 3);
		i += 3;
	}
	out.s[i] = '\0';
	return out;
}

/* "node \"name\" (Op)": how every message about a node starts. */
#define NODE_FMT "node \"%s\" (%s)"
#define NODE_ARGS(n) Safe((n)->name).s, Safe((n)->op_type).s

/* ---------------------------------------------------------------- unpacking */

static void *
BudgetAlloc(void *ctx, size_t size)
{
	Reader	   *r = ctx;
	void	   *p;

	if (size > r->budget - r->used)
	{
		r->over_budget = true;
		return NULL;
	}
	r->used += size;
	p = ae_alloc(r->al, size);
	if (p == NULL)
		r->alloc_failed = true;
	return p;
}

static void
BudgetFree(void *ctx, void *ptr)
{
	Reader	   *r = ctx;

	ae_free(r->al, ptr);
}

/* ---------------------------------------------------------------- tensors */

/* A constant: an initializer, or the "value" of a Constant node. */
typedef struct Constant
{
	const char *name;
	const Onnx__TensorProto *t;
	size_t		count;			/* elements, checked against the data */
	int			rank;
	int64_t		dims[2];
} Constant;

typedef struct Graph
{
	const Onnx__GraphProto *g;
	Constant   *consts;
	int			n_consts;
} Graph;

/*
 * Everything about a tensor that can be checked before its values are read:
 * float32, stored in the message (no external data), rank <= 2, every dim
 * in [1, AE_MAX_WIDTH], and exactly as many values as the dims say, in one
 * of float_data or raw_data and no other field.
 */
static bool
CheckTensor(Reader *r, const Onnx__TensorProto *t, const char *what, Constant *c)
{
	SafeName	name = Safe(t->name);
	size_t		count = 1;

	if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
		return Fail(r, AE_ONNX_UNSUPPORTED, "%s \"%s\" has data type %d; autoenc reads float32 (1) tensors only",
					what, name.s, t->has_data_type ? (int) t->data_type : 0);
	if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
		t->n_external_data > 0)
		return Fail(r, AE_ONNX_UNSUPPORTED, "%s \"%s\" keeps its data in an external file; save the model with its data inside",
					what, name.s);
	if (t->segment != NULL)
		return Fail(r, AE_ONNX_UNSUPPORTED, "%s \"%s\" is a segment of a tensor", what, name.s);
	if (t->n_dims > 2)
		return Fail(r, AE_ONNX_INVALID, "%s \"%s\" has %zu dimensions; at most 2 are expected", what, name.s, t->n_dims);
	for (size_t i = 0; i < t->n_dims; i++)
	{
		if (t->dims[i] < 1 || t->dims[i] > AE_MAX_WIDTH)
			return Fail(r, AE_ONNX_INVALID, "%s \"%s\" has dimension %zu of size %lld; sizes must be between 1 and %d",
						what, name.s, i, (long long) t->dims[i], AE_MAX_WIDTH);
		count *= (size_t) t->dims[i];
		c->dims[i] = t->dims[i];
	}
	if (t->n_int32_data || t->n_string_data || t->n_int64_data || t->n_double_data || t->n_uint64_data)
		return Fail(r, AE_ONNX_INVALID, "%s \"%s\" is float32 but holds data of another type", what, name.s);
	if (t->has_raw_data)
	{
		if (t->n_float_data > 0)
			return Fail(r, AE_ONNX_INVALID, "%s \"%s\" holds both raw_data and float_data", what, name.s);
		if (t->raw_data.len != count * sizeof(float))
			return Fail(r, AE_ONNX_INVALID, "%s \"%s\" has %zu bytes of data; its dims need %zu",
						what, name.s, t->raw_data.len, count * sizeof(float));
	}
	else if (t->n_float_data != count)
		return Fail(r, AE_ONNX_INVALID, "%s \"%s\" has %zu values; its dims need %zu",
					what, name.s, t->n_float_data, count);
	c->t = t;
	c->count = count;
	c->rank = (int) t->n_dims;
	return true;
}

/* Element i of a checked tensor (raw_data is little-endian by definition). */
static float
TensorValue(const Constant *c, size_t i)
{
	const Onnx__TensorProto *t = c->t;
	const uint8_t *p;
	uint32_t	u;
	float		f;

	if (!t->has_raw_data)
		return t->float_data[i];
	p = t->raw_data.data + i * 4;
	u = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static const Constant *
FindConstant(const Graph *gr, const char *name)
{
	for (int i = 0; i < gr->n_consts; i++)
		if (strcmp(gr->consts[i].name, name) == 0)
			return &gr->consts[i];
	return NULL;
}

/* ---------------------------------------------------------------- attributes */

static const Onnx__AttributeProto *
FindAttribute(const Onnx__NodeProto *n, const char *name)
{
	for (size_t i = 0; i < n->n_attribute; i++)
		if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
			return n->attribute[i];
	return NULL;
}

/* No attribute but those named (NULL-terminated list). */
static bool
OnlyAttributes(Reader *r, const Onnx__NodeProto *n, const char *const *allowed)
{
	for (size_t i = 0; i < n->n_attribute; i++)
	{
		const char *name = n->attribute[i]->name ? n->attribute[i]->name : "";
		bool		ok = false;

		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(name, *a) == 0;
		if (!ok)
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has attribute \"%s\", which autoenc does not support",
						NODE_ARGS(n), Safe(name).s);
	}
	return true;
}

static bool
IntAttr(Reader *r, const Onnx__NodeProto *n, const char *name, int64_t dflt, int64_t *out)
{
	const Onnx__AttributeProto *a = FindAttribute(n, name);

	*out = dflt;
	if (a == NULL)
		return true;
	if (!a->has_i || (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT))
		return Fail(r, AE_ONNX_INVALID, NODE_FMT ": attribute %s must be an integer", NODE_ARGS(n), name);
	*out = a->i;
	return true;
}

static bool
FloatAttr(Reader *r, const Onnx__NodeProto *n, const char *name, float dflt, float *out)
{
	const Onnx__AttributeProto *a = FindAttribute(n, name);

	*out = dflt;
	if (a == NULL)
		return true;
	if (!a->has_f || (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT))
		return Fail(r, AE_ONNX_INVALID, NODE_FMT ": attribute %s must be a float", NODE_ARGS(n), name);
	*out = a->f;
	return true;
}

/* ---------------------------------------------------------------- step 1 */

static bool
CollectConstants(Reader *r, Graph *gr)
{
	const Onnx__GraphProto *g = gr->g;
	int			n = 0;

	gr->consts = ae_alloc(r->al, (g->n_initializer + g->n_node + 1) * sizeof(Constant));
	if (gr->consts == NULL)
		return NoMem(r);
	for (size_t i = 0; i < g->n_initializer; i++)
	{
		Constant   *c = &gr->consts[n];

		memset(c, 0, sizeof(*c));
		c->name = g->initializer[i]->name ? g->initializer[i]->name : "";
		if (!CheckTensor(r, g->initializer[i], "initializer", c))
			return false;
		n++;
	}
	for (size_t i = 0; i < g->n_node; i++)
	{
		const Onnx__NodeProto *node = g->node[i];
		const Onnx__AttributeProto *value;
		Constant   *c = &gr->consts[n];

		/*
		 * torch.onnx.export stores equal buffers once and names the copies
		 * with Identity nodes: the copy is the same constant.  Nodes are in
		 * topological order, so one pass sees every chain of copies.
		 */
		if (node->op_type != NULL && strcmp(node->op_type, "Identity") == 0 &&
			node->n_input == 1 && node->n_output == 1 && node->output[0] != NULL)
		{
			gr->n_consts = n;
			if (FindConstant(gr, node->input[0]) != NULL)
			{
				*c = *FindConstant(gr, node->input[0]);
				c->name = node->output[0];
				n++;
			}
			continue;
		}
		if (node->op_type == NULL || strcmp(node->op_type, "Constant") != 0)
			continue;
		value = FindAttribute(node, "value");
		if (node->n_output != 1 || node->n_attribute != 1 || value == NULL || value->t == NULL)
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " is supported only with one tensor attribute \"value\"",
						NODE_ARGS(node));
		memset(c, 0, sizeof(*c));
		c->name = node->output[0] ? node->output[0] : "";
		if (!CheckTensor(r, value->t, "constant", c))
			return false;
		n++;
	}
	gr->n_consts = n;
	return true;
}

/* ---------------------------------------------------------------- step 2 */

typedef enum OpKind
{
	OP_OTHER = 0,
	OP_IDENTITY,
	OP_GEMM,
	OP_MATMUL,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_ACT,						/* one of the activations */
	OP_SIDE						/* known, allowed off the chain only */
} OpKind;

static OpKind
Classify(const char *op, AeActivation *act)
{
	static const struct
	{
		const char *name;
		OpKind		kind;
		AeActivation act;
	}			ops[] = {
		{"Identity", OP_IDENTITY, AE_ACT_LINEAR},
		{"Gemm", OP_GEMM, AE_ACT_LINEAR},
		{"MatMul", OP_MATMUL, AE_ACT_LINEAR},
		{"Add", OP_ADD, AE_ACT_LINEAR},
		{"Sub", OP_SUB, AE_ACT_LINEAR},
		{"Mul", OP_MUL, AE_ACT_LINEAR},
		{"Div", OP_DIV, AE_ACT_LINEAR},
		{"Relu", OP_ACT, AE_ACT_RELU},
		{"Tanh", OP_ACT, AE_ACT_TANH},
		{"Sigmoid", OP_ACT, AE_ACT_SIGMOID},
		{"LeakyRelu", OP_ACT, AE_ACT_LEAKY_RELU},
		{"Elu", OP_ACT, AE_ACT_ELU},
		{"ReduceMean", OP_SIDE, AE_ACT_LINEAR},
		{"Pow", OP_SIDE, AE_ACT_LINEAR},
		{"Constant", OP_SIDE, AE_ACT_LINEAR},
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (op && strcmp(op, ops[i].name) == 0)
		{
			*act = ops[i].act;
			return ops[i].kind;
		}
	return OP_OTHER;
}

static bool
DefaultDomain(const char *domain)
{
	return domain == NULL || domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

static const Onnx__NodeProto *
Producer(const Graph *gr, const char *name)
{
	const Onnx__GraphProto *g = gr->g;

	for (size_t i = 0; i < g->n_node; i++)
		for (size_t j = 0; j < g->node[i]->n_output; j++)
			if (g->node[i]->output[j] && strcmp(g->node[i]->output[j], name) == 0)
				return g->node[i];
	return NULL;
}

/* One weight layer, as found on the chain. */
typedef struct LayerSpec
{
	const Onnx__NodeProto *node;	/* the Gemm or MatMul */
	const Constant *W;
	bool		W_out_in;		/* W is out×in (Gemm transB=1), else in×out */
	int			in,
				out;
	const Constant *bias[MAX_BIAS_PARTS];
	int			n_bias;
	AeActivation act;
	bool		closed;			/* activation seen (or another layer began) */
	const char *output;			/* the tensor holding the layer's output */
} LayerSpec;

typedef struct Walk
{
	const char *input;			/* the graph input's name */
	int			n_inputs;		/* its width, 0 when not declared */
	const Onnx__NodeProto *chain[MAX_CHAIN];
	int			n_chain;
	LayerSpec	layers[AE_MAX_HIDDEN + 1];
	int			n_layers;
	const Constant *offset;		/* Sub c */
	bool		offset_negated;	/* Add c before any layer: offset = -c */
	const Constant *scale;		/* Div c */
	bool		scale_inverted; /* Mul c before any layer: scale = 1/c */
	bool		shift_after_scale;	/* x / s - o' rather than (x - o) / s */
	const Constant *post_scale; /* Mul c after the layers */
	const Constant *post_offset;	/* Add c after the layers */
	const char *code_output;	/* the tensor of a graph output "code", or NULL */
} Walk;

static bool
IsConstantName(const Graph *gr, const char *name)
{
	return FindConstant(gr, name) != NULL;
}

static bool
FindInput(Reader *r, const Graph *gr, Walk *w)
{
	const Onnx__GraphProto *g = gr->g;
	const Onnx__ValueInfoProto *found = NULL;
	int			n = 0;

	for (size_t i = 0; i < g->n_input; i++)
	{
		const char *name = g->input[i]->name ? g->input[i]->name : "";

		if (IsConstantName(gr, name))
			continue;			/* older exports list initializers as inputs */
		found = g->input[i];
		n++;
	}
	if (n != 1)
		return Fail(r, AE_ONNX_INVALID, "the graph has %d inputs besides its initializers; an autoencoder has one", n);
	w->input = found->name ? found->name : "";
	if (found->type && found->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
		found->type->tensor_type)
	{
		const Onnx__TypeProto__Tensor *tt = found->type->tensor_type;

		if (tt->has_elem_type && tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
			return Fail(r, AE_ONNX_UNSUPPORTED, "the graph input \"%s\" has element type %d; autoenc takes float32 (1)",
						Safe(w->input).s, (int) tt->elem_type);
		if (tt->shape)
		{
			const Onnx__TensorShapeProto *sh = tt->shape;

			if (sh->n_dim != 2)
				return Fail(r, AE_ONNX_INVALID, "the graph input \"%s\" has %zu dimensions; expected 2 (rows, inputs)",
							Safe(w->input).s, sh->n_dim);
			if (sh->dim[1]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
			{
				int64_t		v = sh->dim[1]->dim_value;

				if (v < 1 || v > AE_MAX_WIDTH)
					return Fail(r, AE_ONNX_INVALID, "the graph input \"%s\" has %lld columns; expected between 1 and %d",
								Safe(w->input).s, (long long) v, AE_MAX_WIDTH);
				w->n_inputs = (int) v;
			}
		}
	}
	return true;
}

/* Back from the reconstruction to the input: the chain, in forward order. */
static bool
WalkBack(Reader *r, const Graph *gr, Walk *w)
{
	const Onnx__GraphProto *g = gr->g;
	const char *cur = NULL;
	const Onnx__NodeProto *rev[MAX_CHAIN];
	int			n = 0;

	for (size_t i = 0; i < g->n_output; i++)
	{
		const char *name = g->output[i]->name ? g->output[i]->name : "";

		if (strcmp(name, "reconstruction") == 0)
			cur = name;
		if (strcmp(name, "code") == 0)
			w->code_output = name;
	}
	if (cur == NULL)
	{
		if (g->n_output != 1)
			return Fail(r, AE_ONNX_INVALID, "the graph has %zu outputs and none is named \"reconstruction\"",
						g->n_output);
		cur = g->output[0]->name ? g->output[0]->name : "";
	}

	while (strcmp(cur, w->input) != 0)
	{
		const Onnx__NodeProto *node = Producer(gr, cur);
		const char *data = NULL;
		AeActivation act;

		if (node == NULL)
			return Fail(r, AE_ONNX_INVALID, "tensor \"%s\" is computed by no node and is not the graph input",
						Safe(cur).s);
		if (!DefaultDomain(node->domain))
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " is of domain \"%s\"; autoenc supports the default ONNX domain only",
						NODE_ARGS(node), Safe(node->domain).s);
		if (Classify(node->op_type, &act) == OP_OTHER || Classify(node->op_type, &act) == OP_SIDE)
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " is not supported in an autoencoder: expected Gemm, MatMul, Add, Sub, Mul, Div, Relu, Tanh, Sigmoid, LeakyRelu, Elu or Identity",
						NODE_ARGS(node));
		if (node->n_output != 1)
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has %zu outputs; expected 1", NODE_ARGS(node), node->n_output);
		for (size_t i = 0; i < node->n_input; i++)
		{
			const char *in = node->input[i] ? node->input[i] : "";

			if (in[0] == '\0' || IsConstantName(gr, in))
				continue;
			if (data != NULL)
				return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " combines two computed tensors, \"%s\" and \"%s\"; autoenc imports a chain of layers",
							NODE_ARGS(node), Safe(data).s, Safe(in).s);
			data = in;
		}
		if (data == NULL)
			return Fail(r, AE_ONNX_INVALID, NODE_FMT " depends on constants only, not on the graph input",
						NODE_ARGS(node));
		if (n >= MAX_CHAIN)
			return Fail(r, AE_ONNX_TOO_LARGE, "the chain from the input to the reconstruction has more than %d nodes",
						MAX_CHAIN);
		rev[n++] = node;
		cur = data;
	}
	for (int i = 0; i < n; i++)
		w->chain[i] = rev[n - 1 - i];
	w->n_chain = n;

	/* every other node must be one that a side output may use */
	for (size_t i = 0; i < g->n_node; i++)
	{
		const Onnx__NodeProto *node = g->node[i];
		bool		on_chain = false;
		AeActivation act;

		for (int j = 0; j < n; j++)
			on_chain |= w->chain[j] == node;
		if (!on_chain && Classify(node->op_type, &act) == OP_OTHER)
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " is not supported in an autoencoder", NODE_ARGS(node));
	}
	return true;
}

/* The constant input of a binary node, and whether it comes first. */
static const Constant *
ConstantOperand(const Graph *gr, const Onnx__NodeProto *node)
{
	for (size_t i = 0; i < node->n_input; i++)
		if (node->input[i] && node->input[i][0] != '\0')
		{
			const Constant *c = FindConstant(gr, node->input[i]);

			if (c)
				return c;
		}
	return NULL;
}

/* A per-column vector of width n: [n], [1, n], or one value broadcast. */
static bool
CheckVector(Reader *r, const Onnx__NodeProto *node, const Constant *c, int n)
{
	if (c->count == 1)
		return true;
	if ((c->rank == 1 && c->dims[0] == n) || (c->rank == 2 && c->dims[0] == 1 && c->dims[1] == n))
		return true;
	return Fail(r, AE_ONNX_INVALID, NODE_FMT ": constant \"%s\" has %zu values; expected 1 or %d (one per column)",
				NODE_ARGS(node), Safe(c->name).s, c->count, n);
}

static LayerSpec *
OpenLayer(Walk *w)
{
	return w->n_layers > 0 && !w->layers[w->n_layers - 1].closed ? &w->layers[w->n_layers - 1] : NULL;
}

static bool
AddLinear(Reader *r, const Graph *gr, Walk *w, const Onnx__NodeProto *node, OpKind kind)
{
	static const char *const gemm_attrs[] = {"alpha", "beta", "transA", "transB", NULL};
	static const char *const none[] = {NULL};
	LayerSpec  *open = OpenLayer(w);
	LayerSpec  *l;
	const Constant *W;
	int			prev;

	if (open)
		open->closed = true;	/* two linear maps in a row: the first is linear */
	if (w->post_scale || w->post_offset)
		return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " follows a scaling or shift of a layer's output; only the inverse of the input normalisation may follow a layer, and only the last",
					NODE_ARGS(node));
	if (w->n_layers >= AE_MAX_HIDDEN + 1)
		return Fail(r, AE_ONNX_TOO_LARGE, NODE_FMT " is weight layer %d; autoenc models have at most %d",
					NODE_ARGS(node), w->n_layers + 1, AE_MAX_HIDDEN + 1);
	l = &w->layers[w->n_layers];
	memset(l, 0, sizeof(*l));
	l->node = node;
	l->act = AE_ACT_LINEAR;

	if (node->n_input < 2 || node->input[1] == NULL || (W = FindConstant(gr, node->input[1])) == NULL)
		return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT ": the weight (second input) must be a constant",
					NODE_ARGS(node));
	if (W->rank != 2)
		return Fail(r, AE_ONNX_INVALID, NODE_FMT ": weight \"%s\" has %d dimensions; expected 2",
					NODE_ARGS(node), Safe(W->name).s, W->rank);
	l->W = W;
	if (kind == OP_GEMM)
	{
		int64_t		transA,
					transB;
		float		alpha,
					beta;

		if (!OnlyAttributes(r, node, gemm_attrs) ||
			!IntAttr(r, node, "transA", 0, &transA) || !IntAttr(r, node, "transB", 0, &transB) ||
			!FloatAttr(r, node, "alpha", 1.0f, &alpha) || !FloatAttr(r, node, "beta", 1.0f, &beta))
			return false;
		if (transA != 0 || alpha != 1.0f || beta != 1.0f || (transB != 0 && transB != 1))
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has transA %lld, alpha %g, beta %g; autoenc imports Gemm with transA 0, alpha 1 and beta 1",
						NODE_ARGS(node), (long long) transA, alpha, beta);
		if (node->n_input > 3)
			return Fail(r, AE_ONNX_INVALID, NODE_FMT " has %zu inputs; Gemm has at most 3", NODE_ARGS(node), node->n_input);
		l->W_out_in = transB == 1;
	}
	else
	{
		if (!OnlyAttributes(r, node, none))
			return false;
		if (node->n_input != 2)
			return Fail(r, AE_ONNX_INVALID, NODE_FMT " has %zu inputs; MatMul has 2", NODE_ARGS(node), node->n_input);
	}
	l->out = (int) (l->W_out_in ? W->dims[0] : W->dims[1]);
	l->in = (int) (l->W_out_in ? W->dims[1] : W->dims[0]);
	prev = w->n_layers > 0 ? w->layers[w->n_layers - 1].out : w->n_inputs;
	if (prev > 0 && l->in != prev)
		return Fail(r, AE_ONNX_INVALID, NODE_FMT ": weight \"%s\" takes %d inputs, but the tensor it multiplies has %d columns",
					NODE_ARGS(node), Safe(W->name).s, l->in, prev);
	if (w->n_layers == 0)
		w->n_inputs = l->in;
	if (kind == OP_GEMM && node->n_input == 3 && node->input[2] && node->input[2][0] != '\0')
	{
		const Constant *C = FindConstant(gr, node->input[2]);

		if (C == NULL)
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT ": the bias (third input) must be a constant", NODE_ARGS(node));
		if (!CheckVector(r, node, C, l->out))
			return false;
		l->bias[l->n_bias++] = C;
	}
	l->output = node->output[0];
	w->n_layers++;
	return true;
}

static bool
WalkForward(Reader *r, const Graph *gr, Walk *w)
{
	static const char *const none[] = {NULL};
	static const char *const alpha_only[] = {"alpha", NULL};

	for (int i = 0; i < w->n_chain; i++)
	{
		const Onnx__NodeProto *node = w->chain[i];
		AeActivation act;
		OpKind		kind = Classify(node->op_type, &act);
		LayerSpec  *open = OpenLayer(w);
		const Constant *c = NULL;

		if (kind == OP_ADD || kind == OP_SUB || kind == OP_MUL || kind == OP_DIV)
		{
			if (!OnlyAttributes(r, node, none))
				return false;
			if (node->n_input != 2)
				return Fail(r, AE_ONNX_INVALID, NODE_FMT " has %zu inputs; expected 2", NODE_ARGS(node), node->n_input);
			c = ConstantOperand(gr, node);
			/* a normalisation or a bias: one operand computed, the other a constant */
			if (c == NULL)
				return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has no constant operand; autoenc imports %s only with a constant (a normalisation or a bias)",
							NODE_ARGS(node), Safe(node->op_type).s);
			/* x - c and x / c only: c - x and c / x are not normalisations */
			if ((kind == OP_SUB || kind == OP_DIV) && FindConstant(gr, node->input[0]) != NULL)
				return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has the constant first; expected input %s constant",
							NODE_ARGS(node), kind == OP_SUB ? "minus" : "divided by");
		}
		switch (kind)
		{
			case OP_IDENTITY:
				if (!OnlyAttributes(r, node, none))
					return false;
				break;
			case OP_GEMM:
			case OP_MATMUL:
				if (!AddLinear(r, gr, w, node, kind))
					return false;
				break;
			case OP_ACT:
				{
					float		alpha = 0;

					if (!OnlyAttributes(r, node, act == AE_ACT_LEAKY_RELU || act == AE_ACT_ELU ? alpha_only : none))
						return false;
					if (open == NULL)
						return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " does not follow a Gemm or MatMul; autoenc applies one activation per layer",
									NODE_ARGS(node));
					if (act == AE_ACT_LEAKY_RELU)
					{
						if (!FloatAttr(r, node, "alpha", 0.01f, &alpha))
							return false;
						if (alpha != AE_LEAKY_SLOPE)
							return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has alpha %g; autoenc's leaky_relu has slope 0.01",
										NODE_ARGS(node), alpha);
					}
					if (act == AE_ACT_ELU)
					{
						if (!FloatAttr(r, node, "alpha", 1.0f, &alpha))
							return false;
						if (alpha != AE_ELU_ALPHA)
							return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has alpha %g; autoenc's elu has alpha 1",
										NODE_ARGS(node), alpha);
					}
					open->act = act;
					open->closed = true;
					open->output = node->output[0];
				}
				break;
			case OP_ADD:
			case OP_SUB:
			case OP_MUL:
			case OP_DIV:
				if (w->n_layers == 0)
				{
					/*
					 * Input normalisation: one shift (Sub or Add) and one
					 * scaling (Div or Mul), in either order: (x - o) / s,
					 * or x * a + b as PyTorch writes an affine map.
					 */
					if (kind == OP_SUB || kind == OP_ADD)
					{
						if (w->offset)
							return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT ": the input is shifted twice; autoenc normalises with one shift and one scaling",
										NODE_ARGS(node));
						w->offset = c;
						w->offset_negated = kind == OP_ADD;
						w->shift_after_scale = w->scale != NULL;
					}
					else
					{
						if (w->scale)
							return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT ": the input is scaled twice; autoenc normalises with one shift and one scaling",
										NODE_ARGS(node));
						w->scale = c;
						w->scale_inverted = kind == OP_MUL;
					}
				}
				else if (kind == OP_ADD && open && !w->post_scale)
				{
					/* MatMul + Add: the bias */
					if (open->n_bias >= MAX_BIAS_PARTS)
						return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " adds a third bias to one layer", NODE_ARGS(node));
					open->bias[open->n_bias++] = c;
					open->output = node->output[0];
				}
				else if (kind == OP_MUL && !w->post_scale && !w->post_offset)
				{
					if (open)
						open->closed = true;
					w->post_scale = c;
				}
				else if (kind == OP_ADD && !w->post_offset)
				{
					if (open)
						open->closed = true;
					w->post_offset = c;
				}
				else
					return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " after the last layer: only the inverse normalisation (Mul by scale, then Add offset) may follow it",
								NODE_ARGS(node));
				break;
			default:
				return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " is not supported", NODE_ARGS(node));
		}
	}
	if (w->n_layers < 2)
		return Fail(r, AE_ONNX_INVALID, "the graph has %d weight layer%s (Gemm or MatMul); an autoencoder has at least 2",
					w->n_layers, w->n_layers == 1 ? "" : "s");
	if (w->layers[w->n_layers - 1].out != w->n_inputs)
		return Fail(r, AE_ONNX_INVALID, "the last layer has %d outputs, but the input has %d columns; an autoencoder reconstructs its input",
					w->layers[w->n_layers - 1].out, w->n_inputs);
	if ((w->post_scale || w->post_offset) && !(w->scale || w->offset))
		return Fail(r, AE_ONNX_UNSUPPORTED, "the output is scaled or shifted after the last layer, but the input is not normalised; only the inverse of the input normalisation may follow the last layer");
	if (w->offset && !CheckVector(r, w->chain[0], w->offset, w->n_inputs))
		return false;
	if (w->scale && !CheckVector(r, w->chain[0], w->scale, w->n_inputs))
		return false;
	if (w->post_scale && !CheckVector(r, w->chain[w->n_chain - 1], w->post_scale, w->n_inputs))
		return false;
	if (w->post_offset && !CheckVector(r, w->chain[w->n_chain - 1], w->post_offset, w->n_inputs))
		return false;
	for (int l = 0; l < w->n_layers; l++)
		for (int k = 0; k < w->layers[l].n_bias; k++)
			if (!CheckVector(r, w->layers[l].node, w->layers[l].bias[k], w->layers[l].out))
				return false;
	return true;
}

/* ---------------------------------------------------------------- step 3 */

static float
VectorValue(const Constant *c, int j)
{
	return TensorValue(c, c->count == 1 ? 0 : (size_t) j);
}

static bool
CheckFinite(Reader *r, const Constant *c)
{
	for (size_t i = 0; i < c->count; i++)
		if (!isfinite(TensorValue(c, i)))
			return Fail(r, AE_ONNX_INVALID, "tensor \"%s\" holds %s at element %zu; every weight must be finite",
						Safe(c->name).s, isnan(TensorValue(c, i)) ? "NaN" : "an infinity", i);
	return true;
}

/*
 * The inverse after the last layer must undo the input normalisation.  It
 * is compared within float32 rounding, not bit for bit: PyTorch computes
 * the constants of an affine map (1/std, -mean/std) and of its inverse
 * (std, mean) separately, and they agree only to an ulp or two.
 */
static bool
Undoes(float post, float want, float magnitude)
{
	return fabsf(post - want) <= 1e-5f * (fabsf(want) + magnitude);
}

static bool
CopyNormalization(Reader *r, const Walk *w, AeBundle *b)
{
	int			d = b->arch.n_inputs;

	for (int j = 0; j < d; j++)
	{
		float		off = 0.0f,
					sc = 1.0f;

		if (w->scale)
		{
			float		v = VectorValue(w->scale, j);

			sc = w->scale_inverted ? 1.0f / v : v;
		}
		if (w->offset)
		{
			off = w->offset_negated ? -VectorValue(w->offset, j) : VectorValue(w->offset, j);
			/* x / s - o' = (x - o' s) / s */
			if (w->shift_after_scale)
				off *= sc;
		}
		if (!isfinite(off) || !isfinite(sc) || sc == 0.0f)
			return Fail(r, AE_ONNX_INVALID, "the input normalisation of column %d has offset %g and scale %g; both must be finite and the scale nonzero",
						j, off, sc);
		if (w->post_scale && !Undoes(VectorValue(w->post_scale, j), sc, 0.0f))
			return Fail(r, AE_ONNX_INVALID, "the output is multiplied by %g in column %d, but the input was divided by %g; the output may only be mapped back to original units",
						VectorValue(w->post_scale, j), j, sc);
		if (w->post_offset && !Undoes(VectorValue(w->post_offset, j), off, fabsf(sc)))
			return Fail(r, AE_ONNX_INVALID, "%g is added to the output in column %d, but %g was subtracted from the input; the output may only be mapped back to original units",
						VectorValue(w->post_offset, j), j, off);
		b->norm_offset[j] = off;
		b->norm_scale[j] = sc;
		b->feature_mean[j] = off;
	}
	b->norm_method = (w->offset || w->scale) ? AE_NORM_ZSCORE : AE_NORM_NONE;
	return true;
}

static bool
CopyLayers(Reader *r, const Walk *w, AeBundle *b)
{
	AeModel		m;
	char		errbuf[AE_ERRBUF_SIZE];

	if (ae_model_bind(&m, &b->arch, b->params, errbuf) != AE_OK)
		return Fail(r, AE_ONNX_INVALID, "%s", errbuf);
	for (int l = 0; l < w->n_layers; l++)
	{
		const LayerSpec *s = &w->layers[l];
		int			o = s->out,
					in = s->in;

		if (!CheckFinite(r, s->W))
			return false;
		for (int i = 0; i < o; i++)
			for (int j = 0; j < in; j++)
				m.W[l][(size_t) i * in + j] = TensorValue(s->W, s->W_out_in ? (size_t) i * in + j : (size_t) j * o + i);
		for (int i = 0; i < o; i++)
			m.b[l][i] = 0.0f;
		for (int k = 0; k < s->n_bias; k++)
		{
			if (!CheckFinite(r, s->bias[k]))
				return false;
			for (int i = 0; i < o; i++)
				m.b[l][i] += VectorValue(s->bias[k], i);
		}
		for (int i = 0; i < o; i++)
			if (!isfinite(m.b[l][i]))
				return Fail(r, AE_ONNX_INVALID, NODE_FMT ": the bias overflows at element %d", NODE_ARGS(s->node), i);
	}
	return true;
}

static bool
BuildBundle(Reader *r, const Walk *w, int code_layer, AeBundle *b)
{
	int			hidden[AE_MAX_HIDDEN];
	int			L = w->n_layers;
	int			d = w->n_inputs;
	size_t		n_params;
	char		errbuf[AE_ERRBUF_SIZE];

	for (int l = 0; l < L - 1; l++)
		hidden[l] = w->layers[l].out;
	ae_arch_make(&b->arch, d, L - 1, hidden, AE_ACT_LINEAR, w->layers[L - 1].act, false);
	for (int l = 0; l < L - 1; l++)
		b->arch.hidden_act[l] = w->layers[l].act;
	if (code_layer >= 0)
	{
		if (code_layer > L - 2)
			return Fail(r, AE_ONNX_INVALID, "code_layer is %d, but the model has %d hidden layers (0 to %d)",
						code_layer, L - 1, L - 2);
		b->arch.code_layer = code_layer;
	}
	else if (w->code_output)
		for (int l = 0; l < L - 1; l++)
			if (strcmp(w->layers[l].output, w->code_output) == 0)
				b->arch.code_layer = l;
	if (ae_arch_validate(&b->arch, errbuf) != AE_OK)
		return Fail(r, AE_ONNX_INVALID, "%s", errbuf);

	n_params = ae_arch_param_count(&b->arch);
	if (n_params > AE_ONNX_MAX_PARAMS)
		return Fail(r, AE_ONNX_TOO_LARGE, "the model has %zu parameters; at most %d are accepted",
					n_params, AE_ONNX_MAX_PARAMS);
	b->params = ae_alloc(r->al, n_params * sizeof(float));
	b->norm_offset = ae_alloc(r->al, d * sizeof(float));
	b->norm_scale = ae_alloc(r->al, d * sizeof(float));
	b->feature_mean = ae_alloc(r->al, d * sizeof(float));
	if (!b->params || !b->norm_offset || !b->norm_scale || !b->feature_mean)
		return NoMem(r);
	return CopyLayers(r, w, b) && CopyNormalization(r, w, b);
}

/* ---------------------------------------------------------------- entry */

static bool
CheckModel(Reader *r, const Onnx__ModelProto *model)
{
	const Onnx__GraphProto *g = model->graph;
	bool		opset = false;

	if (g == NULL)
		return Fail(r, AE_ONNX_MALFORMED, "the model has no graph");
	if (model->n_opset_import > AE_ONNX_MAX_NODES || g->n_node > AE_ONNX_MAX_NODES ||
		g->n_initializer > AE_ONNX_MAX_NODES || g->n_input > AE_ONNX_MAX_NODES ||
		g->n_output > AE_ONNX_MAX_NODES)
		return Fail(r, AE_ONNX_TOO_LARGE, "the graph has %zu nodes, %zu initializers, %zu inputs and %zu outputs; at most %d of each are accepted",
					g->n_node, g->n_initializer, g->n_input, g->n_output, AE_ONNX_MAX_NODES);
	for (size_t i = 0; i < model->n_opset_import; i++)
		if (DefaultDomain(model->opset_import[i]->domain))
		{
			int64_t		v = model->opset_import[i]->version;

			if (v < 7)
				return Fail(r, AE_ONNX_UNSUPPORTED, "the model uses ONNX opset %lld; autoenc reads opset 7 and later",
							(long long) v);
			opset = true;
		}
	if (!opset)
		return Fail(r, AE_ONNX_INVALID, "the model imports no version of the default ONNX operator set");
	if (g->n_sparse_initializer > 0)
		return Fail(r, AE_ONNX_UNSUPPORTED, "the graph has sparse initializers");
	for (size_t i = 0; i < g->n_node; i++)
		if (g->node[i]->n_input > 16 || g->node[i]->n_output > 16 || g->node[i]->n_attribute > 16)
			return Fail(r, AE_ONNX_UNSUPPORTED, NODE_FMT " has more than 16 inputs, outputs or attributes",
						NODE_ARGS(g->node[i]));
	return true;
}

AeStatus
ae_onnx_read(const uint8_t *buf, size_t len, int code_layer, AeBundle *bundle,
			 const AeAllocator *al, AeOnnxProblem *problem, char *errbuf)
{
	Reader		r = {.al = al, .problem = AE_ONNX_OK, .errbuf = errbuf};
	ProtobufCAllocator pal;
	Onnx__ModelProto *model;
	Graph		gr = {0};
	Walk	   *w = NULL;
	bool		ok;

	memset(bundle, 0, sizeof(*bundle));
	*problem = AE_ONNX_OK;
	if (len > AE_ONNX_MAX_BYTES)
	{
		Fail(&r, AE_ONNX_TOO_LARGE, "the model has %zu bytes; at most %zu are accepted", len, AE_ONNX_MAX_BYTES);
		*problem = r.problem;
		return AE_ERR_FORMAT;
	}

	/*
	 * An honest model is mostly tensor data, which unpacks into about as
	 * many bytes as it has on the wire; structs of nodes and names add a
	 * little.  Twice the input and a fixed margin leave room for every real
	 * model and none for amplification.
	 */
	r.budget = 2 * len + 16 * 1024 * 1024;
	pal.alloc = BudgetAlloc;
	pal.free = BudgetFree;
	pal.allocator_data = &r;
	model = onnx__model_proto__unpack(&pal, len, buf);
	if (model == NULL)
	{
		if (r.alloc_failed)
		{
			NoMem(&r);
			return AE_ERR_NOMEM;
		}
		if (r.over_budget)
			Fail(&r, AE_ONNX_TOO_LARGE, "the model unpacks into more than %zu bytes", r.budget);
		else
			Fail(&r, AE_ONNX_MALFORMED, "the data is not an ONNX ModelProto (protobuf parsing failed)");
		*problem = r.problem;
		return AE_ERR_FORMAT;
	}

	ok = CheckModel(&r, model);
	gr.g = model->graph;
	if (ok)
		ok = CollectConstants(&r, &gr);
	if (ok)
	{
		w = ae_alloc(al, sizeof(Walk));
		if (w == NULL)
			ok = NoMem(&r);
		else
			memset(w, 0, sizeof(*w));
	}
	ok = ok && FindInput(&r, &gr, w) && WalkBack(&r, &gr, w) && WalkForward(&r, &gr, w) &&
		BuildBundle(&r, w, code_layer, bundle);

	if (ok)
	{
		bundle->threshold = NAN;
		bundle->contamination = NAN;
		for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
			bundle->quantiles[i] = NAN;
		bundle->train_loss = NAN;
		bundle->val_loss = NAN;
	}
	else
	{
		ae_free(al, bundle->params);
		ae_free(al, bundle->norm_offset);
		ae_free(al, bundle->norm_scale);
		ae_free(al, bundle->feature_mean);
		memset(bundle, 0, sizeof(*bundle));
	}
	ae_free(al, w);
	ae_free(al, gr.consts);
	onnx__model_proto__free_unpacked(model, &pal);
	*problem = r.alloc_failed ? AE_ONNX_OK : r.problem;
	if (ok)
		return AE_OK;
	return r.alloc_failed ? AE_ERR_NOMEM : AE_ERR_FORMAT;
}
