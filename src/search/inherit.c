/* Lamarckian inheritance, shared by evolution and NSGA-II (steady mode).
 *
 * A child is its parent's genome changed by one function-preserving morph (Chen,
 * Goodfellow and Shlens 2016): a layer widened to a larger allowed width (Net2WiderNet)
 * or an identity layer inserted after a dense or conv layer (Net2DeeperNet): a dense
 * layer of the same width, or a conv of the same width and kernel, stride 1, whose
 * batch normalization starts by undoing the statistics it meets (the worker measures
 * them on the training data). It is an LM_JOB_CLONE of the parent carrying the morph:
 * the worker transforms the parent's kept weights and trains the child for fewer
 * epochs. Multi-objective, this is LEMONADE's (Elsken, Metzen and Hutter 2019) network
 * morphism under NSGA-II's selection. With inherit_shrink a child may also be one of
 * LEMONADE's approximate morphs, which make a network smaller and start the child near
 * the parent's function: a layer narrowed to a smaller allowed width, keeping its units of largest
 * L1 norm (Li et al. 2017), or a layer removed whose output has its input's channels.
 * Other named mutations (kernel, type, skips) and crossover do not start near the
 * parent's function; the searchers breed such children from scratch. So that
 * parents can be copied, every trial is answered PAUSE at its last epoch (its worker
 * keeps its state, trial status PAUSED) and is marked DONE, its state dropped, when it
 * leaves the population, does not join it, or the search ends. */
#include "lamarck/error.h"
#include "search/evolve.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const lm__inheritance_labels[] = {"none", "lamarckian", NULL};

int lm__lamarck_init(lm__lamarck *L, const char *searcher, const lm_space *sp, int inherit_epochs,
                     int epochs, double noise, int shrink) {
    memset(L, 0, sizeof *L);
    L->as = lm_space_arch(sp, &L->first, &L->n_arch);
    LM_CHECK(L->as && (L->as->family == LM_ARCH_MLP || L->as->family == LM_ARCH_CHAIN),
             LM_ECONFIG,
             "%s: inheritance: lamarckian needs model.space mlp or chain (Net2Net "
             "morphs of layers), but the space is %s", searcher,
             !L->as ? "not an architecture space"
             : L->as->family == LM_ARCH_CELL ? "cell"
             : L->as->family == LM_ARCH_GCNN ? "gcnn" : "of an unknown family");
    L->epochs = inherit_epochs > 0 ? inherit_epochs : epochs / 3 > 1 ? epochs / 3 : 1;
    L->noise = noise;
    L->shrink = shrink;
    return LM_OK;
}

/* Whether layer i can be widened or narrowed, as Net2WiderNet needs.
 * It must keep a single conv or dense consumer (or the classifier) behind pass-through
 * layers. Every source that carries layer i's units (its output, the pass-through
 * layers' outputs up to the consumer) must be read by the next layer alone: a skip
 * reading one, even from past the consumer, is a second reader. The worker checks it
 * for real. */
static int widen_ok(const lm_arch_chain *ch, int i) {
    lm_arch_layer_type ty = ch->layer[i].type;
    if (ty != LM_ARCH_LAYER_CONV && ty != LM_ARCH_LAYER_DIL_CONV && ty != LM_ARCH_LAYER_DENSE)
        return 0;
    uint32_t carry = (uint32_t)1 << (i + 1);
    int ok = 1;
    for (int j = i + 1; j < ch->depth; j++) {
        const lm_arch_layer *l = &ch->layer[j];
        if (l->skip) return 0;
        if (l->type == LM_ARCH_LAYER_IDENTITY || l->type == LM_ARCH_LAYER_MAX_POOL ||
            l->type == LM_ARCH_LAYER_AVG_POOL) {
            carry |= (uint32_t)1 << (j + 1);
            continue;
        }
        ok = l->type != LM_ARCH_LAYER_SEP_CONV;
        break;
    }
    for (int j = i + 1; j < ch->depth; j++)
        if (ch->layer[j].skip & carry) return 0;
    return ok;
}

/* Whether an identity layer can go after layer i: a dense layer, or a conv layer where
 * the space allows stride 1 (the identity's); no skip into layer i (its output is then a
 * sum, while Net2Deeper goes after its ReLU, before the sum); room for one more; no
 * skip reading layer i's output (the new layer takes it over); and with stages (a
 * template divides the depth among them) every layer in its stage still, the new one
 * in layer i's: each boundary b moves to b + 1 when after layer i, else stays. */
static int deepen_ok(const lm_arch_space *as, const lm_arch_chain *ch, int i) {
    lm_arch_layer_type ty = ch->layer[i].type;
    if ((ty != LM_ARCH_LAYER_DENSE && ty != LM_ARCH_LAYER_CONV) || ch->layer[i].skip ||
        ch->depth >= as->max_depth)
        return 0;
    if (ty == LM_ARCH_LAYER_CONV) {
        int unit = 0;
        for (int k = 0; k < as->n_strides; k++) unit |= as->strides[k] == 1;
        if (!unit) return 0;
    }
    for (int j = i + 1; j < ch->depth; j++)
        if (ch->layer[j].skip & ((uint32_t)1 << (i + 1))) return 0;
    if (as->family == LM_ARCH_CHAIN)
        for (int st = 1; st < as->stages; st++) {
            int b = st * ch->depth / as->stages, b1 = st * (ch->depth + 1) / as->stages;
            if (b1 != b + (b > i)) return 0;
        }
    return 1;
}

static int has_width(lm_arch_layer_type ty) {
    return ty == LM_ARCH_LAYER_CONV || ty == LM_ARCH_LAYER_SEP_CONV ||
           ty == LM_ARCH_LAYER_DIL_CONV || ty == LM_ARCH_LAYER_DENSE;
}

/* Whether layer i can go with every other layer's weights kept (lm_net_remove_layers).
 * It computes something (not an identity); depth stays in range and, with stages, every
 * later layer in its stage (boundary b moves to b - 1 when after layer i); no skips at
 * or after it (sums of sources that move), and with concatenating skips none at all (the
 * channels it meets are then a sum); its output has its input's channels (c_in, 0 when
 * unknown) and, when a dense layer follows (it flattens), its input's spatial size. */
static int remove_ok(const lm_arch_space *as, const lm_arch_chain *ch, int i, int c_in) {
    const lm_arch_layer *l = &ch->layer[i];
    if (l->type == LM_ARCH_LAYER_IDENTITY || ch->depth - 1 < as->min_depth) return 0;
    if (as->family == LM_ARCH_CHAIN)
        for (int st = 1; st < as->stages; st++) {
            int b = st * ch->depth / as->stages, b1 = st * (ch->depth - 1) / as->stages;
            if (b1 != b - (b > i)) return 0;
        }
    for (int j = 0; j < ch->depth; j++)
        if (ch->layer[j].skip && (j >= i || as->skips == LM_ARCH_SKIP_CONCAT)) return 0;
    if (l->type == LM_ARCH_LAYER_DENSE)
        return i > 0 && ch->layer[i - 1].type == LM_ARCH_LAYER_DENSE && c_in == l->width;
    if (has_width(l->type) && c_in != l->width) return 0;
    if (l->stride != 1)
        for (int j = i + 1; j < ch->depth; j++)
            if (ch->layer[j].type == LM_ARCH_LAYER_DENSE) return 0;
    return 1;
}

enum { WIDER, DEEPER, NARROWER, REMOVE, N_MORPHS };

/* The morphs that apply to chain ch; returns their number.
 * Each goes into cand (N_MORPHS * LM_ARCH_CHAIN_MAX_DEPTH) as N_MORPHS * layer + kind. */
static int morph_candidates(const lm__lamarck *L, const lm_arch_chain *ch, int *cand) {
    const lm_arch_space *as = L->as;
    int n_cand = 0;
    /* Channels entering layer 0: the stem's, or unknown (an MLP's flattened input). */
    int c = as->family == LM_ARCH_CHAIN && as->stem_filters > 0 ? as->stem_filters : 0;
    for (int i = 0; i < ch->depth; i++) {
        int larger = 0, smaller = 0;
        for (int k = 0; k < as->n_widths; k++) {
            larger += as->widths[k] > ch->layer[i].width;
            smaller += as->widths[k] < ch->layer[i].width;
        }
        if (larger && widen_ok(ch, i)) cand[n_cand++] = N_MORPHS * i + WIDER;
        if (deepen_ok(as, ch, i)) cand[n_cand++] = N_MORPHS * i + DEEPER;
        if (L->shrink && smaller && widen_ok(ch, i)) cand[n_cand++] = N_MORPHS * i + NARROWER;
        if (L->shrink && remove_ok(as, ch, i, c)) cand[n_cand++] = N_MORPHS * i + REMOVE;
        if (has_width(ch->layer[i].type)) c = ch->layer[i].width;
    }
    return n_cand;
}

int lm__lamarck_can_parent(const lm__lamarck *L, const lm_trials *t, int id) {
    if (t->v[id].status != LM_TRIAL_PAUSED) return 0;
    int32_t g[LM_HP_MAX];
    for (int i = 0; i < L->n_arch; i++) {
        double v = t->v[id].hp[L->first + i];
        g[i] = isfinite(v) ? (int32_t)v : -1;
    }
    lm_arch_chain ch;
    int cand[N_MORPHS * LM_ARCH_CHAIN_MAX_DEPTH];
    if (lm_arch_chain_parse(L->as, g, (size_t)L->n_arch, &ch) < 0) {
        lm_error_clear();
        return 0;
    }
    return morph_candidates(L, &ch, cand) > 0;
}

int lm__lamarck_propose(const lm__lamarck *L, lm_rng *rng, double *x, lm_morph *m,
                        uint64_t *mutated) {
    const lm_arch_space *as = L->as;
    int n = L->n_arch;
    int32_t g[LM_HP_MAX], gp[LM_HP_MAX], gc[LM_HP_MAX];
    for (int i = 0; i < n; i++) g[i] = isfinite(x[L->first + i]) ? (int32_t)x[L->first + i] : -1;
    lm_arch_chain ch;
    if (lm_arch_chain_parse(as, g, (size_t)n, &ch) < 0 ||
        lm_arch_chain_encode(as, &ch, gp, (size_t)n) < 0) {
        lm_error_clear();
        return 0;
    }
    int cand[N_MORPHS * LM_ARCH_CHAIN_MAX_DEPTH];
    int n_cand = morph_candidates(L, &ch, cand);
    if (n_cand == 0) return 0;
    int c = cand[lm_rng_below(rng, (uint64_t)n_cand)], layer = c / N_MORPHS, kind = c % N_MORPHS;
    lm_arch_chain child = ch;
    memset(m, 0, sizeof *m);
    m->layer = layer;
    if (kind == WIDER || kind == NARROWER) {
        int w[LM_ARCH_MAX_WIDTHS], nw = 0, from = ch.layer[layer].width;
        for (int k = 0; k < as->n_widths; k++)
            if (kind == WIDER ? as->widths[k] > from : as->widths[k] < from) w[nw++] = as->widths[k];
        m->kind = kind == WIDER ? LM_MORPH_WIDER : LM_MORPH_NARROWER;
        m->from_width = from;
        m->to_width = w[lm_rng_below(rng, (uint64_t)nw)];
        m->noise = kind == WIDER ? L->noise : 0;
        child.layer[layer].width = m->to_width;
    } else if (kind == DEEPER) {
        m->kind = LM_MORPH_DEEPER;
        /* Sources past the layer's output move up by one: readers of that output (there
         * are none, deepen_ok) would read the identity instead. */
        uint32_t low = ((uint32_t)1 << (layer + 1)) - 1;
        for (int j = ch.depth; j > layer + 1; j--) {
            child.layer[j] = ch.layer[j - 1];
            uint32_t sk = ch.layer[j - 1].skip;
            child.layer[j].skip = (sk & low) | ((sk >> (layer + 1)) << (layer + 2));
        }
        child.layer[layer + 1] = ch.layer[layer];
        child.layer[layer + 1].skip = 0;
        child.layer[layer + 1].stride = 1;
        child.depth++;
    } else {
        const lm_arch_layer *r = &ch.layer[layer];
        m->kind = LM_MORPH_REMOVE;
        m->type = (int)r->type;
        m->kernel = r->kernel;
        m->from_width = r->width;
        m->stride = r->stride;
        /* No layer from here on has skips (remove_ok). */
        for (int j = layer; j + 1 < ch.depth; j++) child.layer[j] = ch.layer[j + 1];
        child.depth--;
    }
    if (lm_arch_chain_encode(as, &child, gc, (size_t)n) < 0) {
        lm_error_clear();
        return 0;
    }
    if (as->in_c > 0) {
        lm_arch_net net = {0};
        int rc = lm_arch_decode(as, gc, (size_t)n, &net);
        if (rc == LM_OK) rc = lm_arch_check_constraints(as, &net);
        lm_arch_net_fini(&net);
        if (rc < 0) {
            lm_error_clear();
            return 0;
        }
    }
    *mutated = 0;
    for (int i = 0; i < n; i++) {
        if (gp[i] != gc[i] && L->first + i < 64) *mutated |= (uint64_t)1 << (L->first + i);
        x[L->first + i] = gc[i];
    }
    return 1;
}

int lm__lamarck_issue(const lm__lamarck *L, const lm__genome *g, lm_trials *t, const double *x,
                      int parent, const lm_morph *m, uint64_t mutated, lm_job *out) {
    int id;
    LM_CALL(g->ops->add_trial(g->ctx, t, x, L->epochs, &id));
    lm_trial *tr = &t->v[id];
    tr->parent[0] = parent;
    tr->parent[1] = -1;
    tr->origin = LM_ORIGIN_MUTATED;
    tr->mutated = mutated;
    tr->generation = t->v[parent].generation + 1;
    tr->morph = *m;
    if (m->kind == LM_MORPH_WIDER || m->kind == LM_MORPH_NARROWER)
        snprintf(tr->reason, sizeof tr->reason, "inherited from trial %d: Net2%s layer %d from %d to %d",
                 parent, m->kind == LM_MORPH_WIDER ? "Wider" : "Narrower", m->layer,
                 m->from_width, m->to_width);
    else if (m->kind == LM_MORPH_DEEPER)
        snprintf(tr->reason, sizeof tr->reason,
                 "inherited from trial %d: Net2Deeper after layer %d", parent, m->layer);
    else
        snprintf(tr->reason, sizeof tr->reason,
                 "inherited from trial %d: layer %d removed", parent, m->layer);
    *out = (lm_job){LM_JOB_CLONE, id, L->epochs, parent};
    return LM_OK;
}

int lm__lamarck_repeats(const lm__genome *g, const lm_trials *t, int parent, const double *x) {
    uint64_t h = g->ops->hash(g->ctx, x);
    for (int i = 0; i < t->n; i++)
        if (t->v[i].parent[0] == parent &&
            g->ops->hash(g->ctx, g->ops->of_trial(g->ctx, t, i)) == h)
            return 1;
    return 0;
}

int lm__lamarck_kept(const lm_trial *tr) {
    return tr->status == LM_TRIAL_PAUSED && tr->epochs_target > 0 &&
           tr->epochs >= tr->epochs_target;
}

int lm__lamarck_pause_due(const lm_trial *tr, const lm_report *r) {
    return tr && tr->epochs_target > 0 && r->epoch >= tr->epochs_target;
}

void lm__lamarck_release(lm_trials *t, int id) {
    lm_trial *tr = &t->v[id];
    if (!lm__lamarck_kept(tr)) return;
    tr->status = LM_TRIAL_DONE;
    if (isnan(tr->t_end) && t->n_curves) tr->t_end = t->curves[t->n_curves - 1].t;
}
