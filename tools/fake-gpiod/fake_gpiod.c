// A fake of the libgpiod 1.6 calls ringlab makes, for LD_PRELOAD in tests: these machines have
// no GPIO character devices. Chips gpiochip0..gpiochip3 with 64 lines each exist; every call is
// appended to $FAKE_GPIOD_LOG, one line each; an input line reads the physical level given by
// $FAKE_GPIOD_INPUT_<chip>_<offset> (0 or 1, default 0). Levels passed in and out are logical:
// physical = logical XOR active-low, as libgpiod does. Built by tools/build-fake-gpiod.sh.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct gpiod_chip;
struct gpiod_line;

#define CHIPS 4
#define LINES 64
#define FLAG_ACTIVE_LOW (1 << 2)

struct fake_line {
    int chip;
    int offset;
    int requested;
    int output;
    int active_low;
    int physical;
    int event_fd;
};

struct fake_chip {
    int number;
    struct fake_line lines[LINES];
};

static struct fake_chip chips[CHIPS];

static void note(const char *format, ...) {
    const char *path = getenv("FAKE_GPIOD_LOG");
    if (!path) return;
    FILE *log = fopen(path, "a");
    if (!log) return;
    va_list arguments;
    va_start(arguments, format);
    vfprintf(log, format, arguments);
    va_end(arguments);
    fputc('\n', log);
    fclose(log);
}

struct gpiod_chip *gpiod_chip_open_lookup(const char *description) {
    int number = -1;
    if (sscanf(description, "gpiochip%d", &number) != 1 && sscanf(description, "/dev/gpiochip%d", &number) != 1) {
        char *end = NULL;
        long value = strtol(description, &end, 10);
        if (end && *end == '\0') number = (int)value;
    }
    if (number < 0 || number >= CHIPS) {
        note("open %s: ENOENT", description);
        errno = ENOENT;
        return NULL;
    }
    chips[number].number = number;
    note("open gpiochip%d", number);
    return (struct gpiod_chip *)&chips[number];
}

void gpiod_chip_close(struct gpiod_chip *chip) {
    note("close gpiochip%d", ((struct fake_chip *)chip)->number);
}

struct gpiod_line *gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset) {
    struct fake_chip *fake = (struct fake_chip *)chip;
    if (offset >= LINES) {
        errno = EINVAL;
        return NULL;
    }
    struct fake_line *line = &fake->lines[offset];
    line->chip = fake->number;
    line->offset = (int)offset;
    return (struct gpiod_line *)line;
}

// A line by name: $FAKE_GPIOD_NAME_<name> gives its offset on every chip.
struct gpiod_line *gpiod_chip_find_line(struct gpiod_chip *chip, const char *name) {
    char variable[128];
    snprintf(variable, sizeof variable, "FAKE_GPIOD_NAME_%s", name);
    const char *offset = getenv(variable);
    if (!offset) {
        note("find %s: ENOENT", name);
        errno = ENOENT;
        return NULL;
    }
    return gpiod_chip_get_line(chip, (unsigned int)atoi(offset));
}

static int request(struct gpiod_line *handle, const char *consumer, int flags, int output, int value) {
    struct fake_line *line = (struct fake_line *)handle;
    if (line->requested) {
        note("request gpiochip%d %d: EBUSY", line->chip, line->offset);
        errno = EBUSY;
        return -1;
    }
    line->requested = 1;
    line->output = output;
    line->active_low = (flags & FLAG_ACTIVE_LOW) != 0;
    if (output) {
        line->physical = (value != 0) ^ line->active_low;
    } else {
        char name[64];
        snprintf(name, sizeof name, "FAKE_GPIOD_INPUT_gpiochip%d_%d", line->chip, line->offset);
        const char *level = getenv(name);
        line->physical = level && level[0] == '1';
        line->event_fd = eventfd(0, EFD_NONBLOCK);
    }
    note("request gpiochip%d %d %s active_low=%d consumer=%s physical=%d", line->chip, line->offset,
         output ? "output" : "input", line->active_low, consumer, line->physical);
    return 0;
}

int gpiod_line_request_output_flags(struct gpiod_line *line, const char *consumer, int flags, int value) {
    return request(line, consumer, flags, 1, value);
}

int gpiod_line_request_both_edges_events_flags(struct gpiod_line *line, const char *consumer, int flags) {
    return request(line, consumer, flags, 0, 0);
}

int gpiod_line_set_value(struct gpiod_line *handle, int value) {
    struct fake_line *line = (struct fake_line *)handle;
    if (!line->requested || !line->output) {
        errno = EPERM;
        return -1;
    }
    line->physical = (value != 0) ^ line->active_low;
    note("set gpiochip%d %d physical=%d", line->chip, line->offset, line->physical);
    return 0;
}

int gpiod_line_get_value(struct gpiod_line *handle) {
    struct fake_line *line = (struct fake_line *)handle;
    if (!line->requested) {
        errno = EPERM;
        return -1;
    }
    return line->physical ^ line->active_low;
}

int gpiod_line_event_get_fd(struct gpiod_line *handle) {
    struct fake_line *line = (struct fake_line *)handle;
    return line->requested && !line->output ? line->event_fd : -1;
}

void gpiod_line_release(struct gpiod_line *handle) {
    struct fake_line *line = (struct fake_line *)handle;
    if (!line->requested) return;
    if (!line->output && line->event_fd > 0) close(line->event_fd);
    line->requested = 0;
    note("release gpiochip%d %d", line->chip, line->offset);
}
