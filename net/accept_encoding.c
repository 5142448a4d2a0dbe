/*
 * Accept-Encoding negotiation.
 *
 * One pass over the header: each element's coding name and weight (in
 * thousandths, so "q=0.5" is 500 and "q=1.000" is 1000) are noted for the
 * codings Torus knows, for identity and for "*". Then each available coding
 * gets its own weight, or the weight of "*" when the list does not name it,
 * or 0; the best one (the first in preference order among equals) is
 * chosen unless identity, named explicitly or through "*", weighs more.
 */
#include "net/accept_encoding.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Weight not given in the header. */
#define WEIGHT_UNSET (-1)

static const char *const coding_names[TORUS_CODING_COUNT] = {"identity", "zstd", "br", "gzip"};
static const char *const coding_suffixes[TORUS_CODING_COUNT] = {"", ".zst", ".br", ".gz"};

const char *torus_coding_name(enum torus_coding coding)
{
    return (unsigned)coding < TORUS_CODING_COUNT ? coding_names[coding] : "identity";
}

const char *torus_coding_suffix(enum torus_coding coding)
{
    return (unsigned)coding < TORUS_CODING_COUNT ? coding_suffixes[coding] : "";
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool token_is(const char *token, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(token, name, len) == 0;
}

/*
 * Parses a qvalue (RFC 9110 12.4.2: "0" or "1" with up to three decimals,
 * only zeros after a 1) into thousandths. -1 when it is not one.
 */
static int parse_qvalue(const char *p, size_t len)
{
    if (len == 0 || (p[0] != '0' && p[0] != '1'))
        return -1;
    int whole = p[0] - '0';
    int thousandths = 0;
    size_t i = 1;
    if (i < len) {
        if (p[i] != '.' || len > 5)
            return -1;
        int scale = 100;
        for (i = 2; i < len; i++) {
            if (p[i] < '0' || p[i] > '9')
                return -1;
            thousandths += (p[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (whole == 1 && thousandths != 0)
        return -1;
    return whole * 1000 + thousandths;
}

/*
 * The weight of one element's parameters (what follows its coding name):
 * 1000 without a q parameter, -1 when the q parameter is invalid. Other
 * parameters are skipped.
 */
static int element_weight(const char *p, const char *end)
{
    int weight = 1000;
    while (p < end) {
        /* p is at ';' or at what trails the name */
        while (p < end && (is_space(*p) || *p == ';'))
            p++;
        const char *param = p;
        while (p < end && *p != ';')
            p++;
        const char *param_end = p;
        while (param_end > param && is_space(param_end[-1]))
            param_end--;
        if (param == param_end)
            continue;
        const char *eq = memchr(param, '=', (size_t)(param_end - param));
        if (!eq)
            continue;
        const char *name_end = eq;
        while (name_end > param && is_space(name_end[-1]))
            name_end--;
        if (!token_is(param, (size_t)(name_end - param), "q"))
            continue;
        const char *value = eq + 1;
        while (value < param_end && is_space(*value))
            value++;
        weight = parse_qvalue(value, (size_t)(param_end - value));
        if (weight < 0)
            return -1;
    }
    return weight;
}

enum torus_coding torus_accept_encoding_choose(const char *value, size_t len, unsigned available)
{
    if (value == NULL)
        return TORUS_CODING_IDENTITY;
    int weights[TORUS_CODING_COUNT];
    for (int i = 0; i < TORUS_CODING_COUNT; i++)
        weights[i] = WEIGHT_UNSET;
    int star = WEIGHT_UNSET;

    const char *p = value, *end = value + len;
    while (p < end) {
        while (p < end && (is_space(*p) || *p == ','))
            p++;
        const char *element = p;
        while (p < end && *p != ',')
            p++;
        const char *element_end = p;
        const char *name_end = element;
        while (name_end < element_end && *name_end != ';' && !is_space(*name_end))
            name_end++;
        size_t name_len = (size_t)(name_end - element);
        if (name_len == 0)
            continue;
        int weight = element_weight(name_end, element_end);
        if (weight < 0)
            continue; /* an invalid weight: the element says nothing */
        int *slot = NULL;
        if (name_len == 1 && element[0] == '*')
            slot = &star;
        else if (token_is(element, name_len, "x-gzip"))
            slot = &weights[TORUS_CODING_GZIP];
        else {
            for (int i = 0; i < TORUS_CODING_COUNT; i++) {
                if (token_is(element, name_len, coding_names[i]))
                    slot = &weights[i];
            }
        }
        if (slot && *slot == WEIGHT_UNSET)
            *slot = weight; /* a coding named twice keeps its first weight */
    }

    enum torus_coding best = TORUS_CODING_IDENTITY;
    int best_weight = 0;
    for (int i = TORUS_CODING_IDENTITY + 1; i < TORUS_CODING_COUNT; i++) {
        if (!(available & TORUS_CODING_BIT(i)))
            continue;
        int weight = weights[i] != WEIGHT_UNSET ? weights[i] : star != WEIGHT_UNSET ? star : 0;
        if (weight > best_weight) {
            best = (enum torus_coding)i;
            best_weight = weight;
        }
    }
    int identity = weights[TORUS_CODING_IDENTITY] != WEIGHT_UNSET ? weights[TORUS_CODING_IDENTITY]
                   : star != WEIGHT_UNSET                         ? star
                                                                  : 0;
    if (best != TORUS_CODING_IDENTITY && identity > best_weight)
        return TORUS_CODING_IDENTITY;
    return best;
}
