package dev.ppexec.otlp;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import dev.ppexec.trace.SpanContract;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Reads OTLP-JSON trace files, as this project's file exporter and the OpenTelemetry Collector's
 * file exporter write them, handing on one span at a time.
 *
 * <p>Two layouts: JSON lines (one {@code {"resourceSpans": [...]}} object per line) and one JSON
 * array of such objects (any layout), told apart by the first character. A line, or an array
 * element, may hold several resources and scopes. Each line (element) is read whole before its
 * spans are handed on, so one that is bad hands on nothing: with {@code lenient} it is skipped
 * and counted, else the read stops with a {@link TraceInputException} naming the line. Memory is
 * one line (one element) at a time, whatever the file's size, but for sglang's own slices, which
 * wait for their thread span and root until the file is read (Note [sglang spans] in {@link SglangSpans}).
 */
public final class OtlpJsonReader {

    private static final JsonFactory JSON = JsonFactory.builder().build();
    private static final String VALUE_TYPES =
            "stringValue, intValue, doubleValue, boolValue, arrayValue, kvlistValue, bytesValue";
    private static final String ALLOWED_FILE = "allowed: OTLP-JSON, one {\"resourceSpans\": [...]} object per line, or one array of them";

    private final String label;
    private final boolean lenient;
    private final SglangSpans sink;
    private final Consumer<String> onSkip;
    private final Consumer<String> spanIds;
    private long units;
    private long skipped;
    private long spans;

    private OtlpJsonReader(String label, boolean lenient, Consumer<SpanRecord> sink, Consumer<String> onSkip,
                           Consumer<String> spanIds) {
        this.label = label;
        this.lenient = lenient;
        this.sink = new SglangSpans(sink);
        this.onSkip = onSkip;
        this.spanIds = spanIds;
    }

    /**
     * Reads {@code input} once, handing each span to {@code sink}.
     *
     * @param lenient skip lines (array elements) that cannot be read, telling {@code onSkip} why
     *                ({@code "FILE line 17: what"}), instead of stopping at the first
     * @throws TraceInputException a missing file, or (unless lenient) a line that is not OTLP-JSON
     */
    public static ReadSummary read(Path input, boolean lenient, Consumer<SpanRecord> sink, Consumer<String> onSkip) {
        return read(input, lenient, sink, onSkip, id -> { });
    }

    /** As {@link #read(Path, boolean, Consumer, Consumer)}, telling {@code spanIds} each span's id (lower-case hex) before the span. */
    static ReadSummary read(Path input, boolean lenient, Consumer<SpanRecord> sink, Consumer<String> onSkip,
                            Consumer<String> spanIds) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(sink, "sink");
        Objects.requireNonNull(onSkip, "onSkip");
        String label = input.toString();
        if (Files.isDirectory(input)) {
            throw new TraceInputException(label + ": is a folder; " + ALLOWED_FILE);
        }
        OtlpJsonReader reader = new OtlpJsonReader(label, lenient, sink, onSkip, spanIds);
        try (InputStream in = new BufferedInputStream(Files.newInputStream(input), 1 << 16)) {
            int first = firstSignificantByte(in);
            if (first < 0) {
                throw new TraceInputException(label + ": empty file; " + ALLOWED_FILE);
            }
            ReadSummary summary = first == '[' ? reader.readArray(in) : reader.readLines(in);
            reader.sink.finish();
            return summary;
        } catch (NoSuchFileException e) {
            throw new TraceInputException(label + ": no such file");
        } catch (AccessDeniedException e) {
            throw new TraceInputException(label + ": cannot read (permission denied)");
        } catch (IOException e) {
            throw new UncheckedIOException(label + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static int firstSignificantByte(InputStream in) throws IOException {
        int limit = 1 << 15;
        in.mark(limit);
        try {
            for (int n = 0; n < limit; n++) {
                int b = in.read();
                if (b < 0) {
                    return -1;
                }
                boolean space = b == ' ' || b == '\t' || b == '\r' || b == '\n';
                boolean byteOrderMark = b == 0xEF || b == 0xBB || b == 0xBF;
                if (!space && !byteOrderMark) {
                    return b;
                }
            }
            return '{';
        } finally {
            in.reset();
        }
    }

    private ReadSummary readLines(InputStream in) throws IOException {
        LineReader lines = new LineReader(in);
        long lineNumber = 0;
        while (lines.next()) {
            lineNumber++;
            if (lines.blank()) {
                continue;
            }
            units++;
            long n = lineNumber;
            try (JsonParser p = JSON.createParser(lines.buffer(), 0, lines.length())) {
                JsonToken first = p.nextToken();
                if (first != JsonToken.START_OBJECT) {
                    throw new BadUnit(n, "not OTLP-JSON: the line holds " + describe(first) + "; " + ALLOWED_FILE);
                }
                List<ReadSpan> read = new Unit(p, () -> n).readExport();
                if (p.nextToken() != null) {
                    throw new BadUnit(n, "more than one JSON value on the line; " + ALLOWED_FILE);
                }
                emit(read);
            } catch (BadUnit e) {
                skip(e.line, e.getMessage());
            } catch (StreamReadException e) {
                skip(n, endOfInput(e) ? "the line ends inside a JSON value (truncated? a JSON line holds one whole object)"
                        : notJson(e));
            } catch (StreamConstraintsException e) {
                skip(n, beyondLimits(e));
            }
        }
        return new ReadSummary(units, skipped, spans, "line");
    }

    private ReadSummary readArray(InputStream in) throws IOException {
        try (JsonParser p = JSON.createParser(in)) {
            LongSupplier line = () -> p.currentLocation().getLineNr();
            Unit unit = new Unit(p, line);
            p.nextToken();
            JsonStreamContext array = p.getParsingContext();
            while (true) {
                boolean counted = false;
                try {
                    JsonToken t = p.nextToken();
                    if (t == JsonToken.END_ARRAY) {
                        break;
                    }
                    units++;
                    counted = true;
                    if (t == null) {
                        throw new JsonEOFException(p, null, "end of input inside the array");
                    }
                    if (t != JsonToken.START_OBJECT) {
                        throw new BadUnit(line.getAsLong(), "not OTLP-JSON: an array element holds " + describe(t)
                                + "; " + ALLOWED_FILE);
                    }
                    emit(unit.readExport());
                } catch (BadUnit e) {
                    skip(e.line, e.getMessage());
                    while (p.getParsingContext() != array && p.nextToken() != null) {
                        // Skips the rest of the bad element.
                    }
                } catch (StreamReadException e) {
                    units += counted ? 0 : 1;
                    skip(endOfInput(e) ? lastLineOf(e) : lineOf(e), endOfInput(e)
                            ? "the file ends inside the array (truncated?); the elements before it were read"
                            : notJson(e) + "; the rest of the array cannot be read");
                    return new ReadSummary(units, skipped, spans, "array element");
                } catch (StreamConstraintsException e) {
                    units += counted ? 0 : 1;
                    skip(line.getAsLong(), beyondLimits(e) + "; the rest of the array cannot be read");
                    return new ReadSummary(units, skipped, spans, "array element");
                }
            }
            if (trailingContent(p)) {
                units++;
                skip(line.getAsLong(), "content after the array; " + ALLOWED_FILE);
            }
        }
        return new ReadSummary(units, skipped, spans, "array element");
    }

    private static boolean trailingContent(JsonParser p) throws IOException {
        try {
            return p.nextToken() != null;
        } catch (StreamReadException e) {
            return true;
        }
    }

    /** Nesting, number or string sizes past the parser's limits: input no exporter writes, refused early, in bounded memory. */
    private static String beyondLimits(StreamConstraintsException e) {
        return "not OTLP-JSON: " + e.getOriginalMessage().replaceAll(" \\(from `[^`]*`\\)", "") + "; " + ALLOWED_FILE;
    }

    /** Jackson reports most ends of input as JsonEOFException, some as a plain parse error. */
    private static boolean endOfInput(StreamReadException e) {
        return e instanceof JsonEOFException || String.valueOf(e.getOriginalMessage()).startsWith("Unexpected end-of-input");
    }

    /** The last line that held anything: the end of input after a line break is on the next line. */
    private static long lastLineOf(StreamReadException e) {
        long line = lineOf(e);
        return e.getLocation() != null && e.getLocation().getColumnNr() <= 1 && line > 1 ? line - 1 : line;
    }

    private static long lineOf(StreamReadException e) {
        return e.getLocation() == null ? 0 : e.getLocation().getLineNr();
    }

    private static String notJson(StreamReadException e) {
        String column = e.getLocation() == null ? "" : " at column " + e.getLocation().getColumnNr();
        return "not JSON" + column + ": " + firstLine(e.getOriginalMessage());
    }

    private void emit(List<ReadSpan> read) {
        for (ReadSpan s : read) {
            if (s.spanId() != null) {
                spanIds.accept(s.spanId());
            }
            sink.accept(s.span(), s.spanId(), s.parentSpanId());
        }
        spans += read.size();
    }

    private void skip(long line, String what) {
        String message = label + " line " + line + ": " + what;
        if (!lenient) {
            throw new TraceInputException(message);
        }
        skipped++;
        onSkip.accept(message);
    }

    private static String describe(JsonToken t) {
        return switch (t) {
            case null -> "nothing";
            case START_ARRAY -> "an array";
            case START_OBJECT -> "an object";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> t.asString() == null ? t.name() : "'" + t.asString() + "'";
        };
    }

    private static String firstLine(String s) {
        int nl = s == null ? -1 : s.indexOf('\n');
        return nl < 0 ? String.valueOf(s) : s.substring(0, nl);
    }

    /** A line or array element that is JSON but not the OTLP shape; the reader skips or stops. */
    private static final class BadUnit extends Exception {
        final long line;

        BadUnit(long line, String message) {
            super(message, null, false, false);
            this.line = line;
        }
    }

    /** A value that is not a known OTLP AnyValue: kept aside until the span's name is known. */
    private record Problem(String text) {}

    /** An OTLP KeyValue; the value may be a {@link Problem}. */
    private record KeyValue(String key, Object value) {}

    /** A span read before its resource (which may come later in the object). */
    private record PartialSpan(String name, long startNanos, long endNanos, Map<String, Object> attributes,
                               String spanId, String parentSpanId) {}

    /** A span with its ids, which sglang's schema needs (Note [sglang spans] in {@link SglangSpans}). */
    private record ReadSpan(SpanRecord span, String spanId, String parentSpanId) {}

    @FunctionalInterface
    private interface Step {
        void run() throws IOException, BadUnit;
    }

    /** Reads one {@code {"resourceSpans": [...]}} object, the parser standing on its first token. */
    private static final class Unit {
        private final JsonParser p;
        private final LongSupplier line;

        Unit(JsonParser p, LongSupplier line) {
            this.p = p;
            this.line = line;
        }

        List<ReadSpan> readExport() throws IOException, BadUnit {
            List<ReadSpan> out = new ArrayList<>();
            boolean otlp = false;
            List<String> keys = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "resourceSpans" -> {
                        otlp = true;
                        forEach(value, field, () -> readResourceSpans(out));
                    }
                    case "resourceLogs", "resourceMetrics", "resourceProfiles" -> {
                        otlp = true;
                        p.skipChildren();
                    }
                    default -> {
                        keys.add(field);
                        p.skipChildren();
                    }
                }
            }
            if (!otlp) {
                throw new BadUnit(line.getAsLong(), "not OTLP-JSON: an object without \"resourceSpans\""
                        + (keys.isEmpty() ? "" : " (its keys: " + String.join(", ", keys.subList(0, Math.min(5, keys.size()))) + ")")
                        + "; " + ALLOWED_FILE);
            }
            return out;
        }

        private void readResourceSpans(List<ReadSpan> out) throws IOException, BadUnit {
            expectObject("a resourceSpans element");
            Map<String, Object> resource = Map.of();
            List<PartialSpan> partial = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "resource" -> resource = readResource(value);
                    case "scopeSpans", "instrumentationLibrarySpans" -> forEach(value, field, () -> readScopeSpans(partial));
                    default -> p.skipChildren();
                }
            }
            Map<String, Object> shared = Collections.unmodifiableMap(resource);
            for (PartialSpan s : partial) {
                out.add(new ReadSpan(new SpanRecord(s.name, s.startNanos, s.endNanos, s.attributes, shared), s.spanId,
                        s.parentSpanId));
            }
        }

        private Map<String, Object> readResource(JsonToken token) throws IOException, BadUnit {
            if (token == JsonToken.VALUE_NULL) {
                return Map.of();
            }
            expectObject("\"resource\"");
            long at = line.getAsLong();
            Map<String, Object> attributes = new LinkedHashMap<>();
            List<String> problems = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("attributes")) {
                    attributes = readAttributes(value, problems);
                } else {
                    p.skipChildren();
                }
            }
            if (!problems.isEmpty()) {
                throw new BadUnit(at, "resource " + problems.getFirst());
            }
            return attributes;
        }

        private void readScopeSpans(List<PartialSpan> out) throws IOException, BadUnit {
            expectObject("a scopeSpans element");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("spans")) {
                    forEach(value, field, () -> out.add(readSpan()));
                } else {
                    p.skipChildren();
                }
            }
        }

        private PartialSpan readSpan() throws IOException, BadUnit {
            expectObject("a span");
            long at = line.getAsLong();
            String name = null;
            Long start = null;
            Long end = null;
            Map<String, Object> attributes = Map.of();
            String spanId = null;
            String parentSpanId = null;
            List<String> problems = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "name" -> name = value == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "startTimeUnixNano" -> start = readNanos(value, field, problems);
                    case "endTimeUnixNano" -> end = readNanos(value, field, problems);
                    case "attributes" -> attributes = readAttributes(value, problems);
                    case "traceId" -> checkId(value, field, 32, false, problems);
                    case "spanId" -> spanId = checkId(value, field, 16, false, problems);
                    case "parentSpanId" -> parentSpanId = checkId(value, field, 16, true, problems);
                    default -> p.skipChildren();
                }
            }
            String what = name == null ? "a span without a \"name\"" : "span '" + name + "'";
            for (SpanContract.Key key : SpanContract.SPAN_KEYS) {
                if (key.type() == SpanContract.Type.LONG && attributes.get(key.name()) instanceof Long n && n < 0) {
                    problems.add("attribute '" + key.name() + "' " + n + " is negative; allowed: an integer >= 0");
                }
            }
            if (!problems.isEmpty()) {
                throw new BadUnit(at, what + ": " + problems.getFirst());
            }
            if (name == null || start == null || end == null) {
                throw new BadUnit(at, what + " has no " + (name == null ? "name" : start == null ? "startTimeUnixNano" : "endTimeUnixNano")
                        + "; allowed: spans with name, startTimeUnixNano and endTimeUnixNano");
            }
            if (end < start) {
                throw new BadUnit(at, what + " ends before it starts: startTimeUnixNano " + start + ", endTimeUnixNano "
                        + end + "; allowed: end >= start");
            }
            return new PartialSpan(name, start, end, attributes, spanId, parentSpanId);
        }

        private Long readNanos(JsonToken token, String field, List<String> problems) throws IOException {
            String text = p.getText();
            Long nanos = parseLong(token, text);
            if (nanos == null) {
                p.skipChildren();
                problems.add(field + " " + (token == JsonToken.VALUE_STRING ? "'" + text + "'" : describe(token))
                        + " is not an integer; allowed: nanoseconds since the epoch, as a decimal string");
            } else if (nanos < 0) {
                problems.add(field + " " + nanos + " is negative; allowed: nanoseconds since the epoch (>= 0)");
            }
            return nanos;
        }

        /**
         * A trace or span id: {@code hexDigits} hex digits, as OTLP/JSON writes ids ({@code
         * parentSpanId} may be empty: a root). Returns the id, or null when there is none or it is bad.
         */
        private String checkId(JsonToken token, String field, int hexDigits, boolean emptyAllowed, List<String> problems)
                throws IOException {
            if (token == JsonToken.VALUE_NULL) {
                return null;
            }
            String text = token == JsonToken.VALUE_STRING ? p.getText() : null;
            if (text == null) {
                p.skipChildren();
            } else if ((emptyAllowed && text.isEmpty()) || isHex(text, hexDigits)) {
                return text.toLowerCase(java.util.Locale.ROOT);
            }
            problems.add(field + " " + (text == null ? describe(token) : "'" + abbreviate(text) + "'") + " is not "
                    + hexDigits + " hex digits; allowed: a " + hexDigits + "-digit hex string"
                    + (emptyAllowed ? " or \"\"" : ""));
            return null;
        }

        /** {@code [{"key": k, "value": AnyValue}, ...]} as a map; bad values go to {@code problems}. */
        private Map<String, Object> readAttributes(JsonToken token, List<String> problems) throws IOException, BadUnit {
            Map<String, Object> out = new LinkedHashMap<>();
            if (token == JsonToken.VALUE_NULL) {
                return out;
            }
            if (token != JsonToken.START_ARRAY) {
                throw new BadUnit(line.getAsLong(), "attributes are " + describe(token) + "; allowed: an array of {\"key\", \"value\"}");
            }
            while (p.nextToken() != JsonToken.END_ARRAY) {
                expectObject("an attribute");
                KeyValue kv = readKeyValue();
                String key = kv.key();
                Object value = kv.value();
                if (value instanceof Problem(String text)) {
                    problems.add("attribute '" + key + "': " + text);
                } else if (key == null) {
                    problems.add("an attribute without a \"key\"");
                } else if (value != null) {
                    out.put(key, value);
                }
            }
            return out;
        }

        /** An OTLP AnyValue as a Java value, {@code null} for an empty one, or a {@link Problem}. */
        private Object readAnyValue(JsonToken token) throws IOException {
            if (token == JsonToken.VALUE_NULL) {
                return null;
            }
            if (token != JsonToken.START_OBJECT) {
                p.skipChildren();
                return new Problem("the value is " + describe(token) + "; allowed: an object with one of " + VALUE_TYPES);
            }
            Object result = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String type = p.currentName();
                JsonToken v = p.nextToken();
                Object value = readTyped(type, v);
                if (result == null || value instanceof Problem) {
                    result = value;
                }
            }
            return result;
        }

        private Object readTyped(String type, JsonToken v) throws IOException {
            String text = v.isScalarValue() ? p.getText() : null;
            Object value = switch (type) {
                case "stringValue", "bytesValue" -> v == JsonToken.VALUE_STRING ? text : null;
                case "boolValue" -> v.isBoolean() ? (Object) (v == JsonToken.VALUE_TRUE)
                        : ("true".equals(text) || "false".equals(text)) ? (Object) Boolean.parseBoolean(text) : null;
                case "intValue" -> parseLong(v, text);
                case "doubleValue" -> parseDouble(v, text);
                case "arrayValue" -> readValues(v, false);
                case "kvlistValue" -> readValues(v, true);
                default -> {
                    p.skipChildren();
                    yield new Problem("unknown value type '" + type + "'; allowed: " + VALUE_TYPES);
                }
            };
            if (value == null) {
                p.skipChildren();
                return new Problem(type + " " + (text == null ? describe(v) : "'" + text + "'") + " is not a valid " + type);
            }
            return value;
        }

        /** An integer as a JSON number or a decimal string (proto3 JSON writes int64 as a string); else null. */
        private Long parseLong(JsonToken v, String text) throws IOException {
            if (v == JsonToken.VALUE_NUMBER_INT) {
                try {
                    return p.getLongValue();
                } catch (InputCoercionException e) {
                    return null;
                }
            }
            return v == JsonToken.VALUE_STRING && text.matches("-?\\d{1,19}") ? parsed(Long::valueOf, text) : null;
        }

        /** A double as a JSON number or a string ("NaN" and "Infinity" included); else null. */
        private Double parseDouble(JsonToken v, String text) throws IOException {
            if (v.isNumeric()) {
                return p.getDoubleValue();
            }
            return v == JsonToken.VALUE_STRING ? parsed(Double::valueOf, text) : null;
        }

        private static <T> T parsed(Function<String, T> parse, String text) {
            try {
                return parse.apply(text);
            } catch (NumberFormatException e) {
                return null;
            }
        }

        /** arrayValue {@code {"values": [AnyValue]}} or kvlistValue {@code {"values": [{key, value}]}}. */
        private Object readValues(JsonToken v, boolean keyed) throws IOException {
            if (v != JsonToken.START_OBJECT) {
                return null;
            }
            List<Object> list = new ArrayList<>();
            Map<String, Object> map = new LinkedHashMap<>();
            Problem problem = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken values = p.nextToken();
                if (!field.equals("values") || values != JsonToken.START_ARRAY) {
                    p.skipChildren();
                    continue;
                }
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    Object element = keyed ? readPair(map) : readAnyValue(p.currentToken());
                    if (element instanceof Problem bad) {
                        problem = problem == null ? bad : problem;
                    } else if (!keyed && element != null) {
                        list.add(element);
                    }
                }
            }
            if (problem != null) {
                return problem;
            }
            return keyed ? Collections.unmodifiableMap(map) : List.copyOf(list);
        }

        private Object readPair(Map<String, Object> into) throws IOException {
            if (p.currentToken() != JsonToken.START_OBJECT) {
                p.skipChildren();
                return new Problem("a kvlistValue element is not an object");
            }
            KeyValue kv = readKeyValue();
            if (kv.value() instanceof Problem) {
                return kv.value();
            }
            if (kv.key() != null && kv.value() != null) {
                into.put(kv.key(), kv.value());
            }
            return null;
        }

        /** One {@code {"key": k, "value": AnyValue}} object, the parser standing on its start. */
        private KeyValue readKeyValue() throws IOException {
            String key = null;
            Object value = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "key" -> key = p.getValueAsString();
                    case "value" -> value = readAnyValue(v);
                    default -> p.skipChildren();
                }
            }
            return new KeyValue(key, value);
        }

        private void forEach(JsonToken token, String field, Step step) throws IOException, BadUnit {
            if (token == JsonToken.VALUE_NULL) {
                return;
            }
            if (token != JsonToken.START_ARRAY) {
                throw new BadUnit(line.getAsLong(), "not OTLP-JSON: \"" + field + "\" holds " + describe(token)
                        + "; allowed: an array");
            }
            while (p.nextToken() != JsonToken.END_ARRAY) {
                step.run();
            }
        }

        private void expectObject(String what) throws BadUnit {
            JsonToken t = p.currentToken();
            if (t != JsonToken.START_OBJECT) {
                throw new BadUnit(line.getAsLong(), "not OTLP-JSON: " + what + " is " + describe(t) + "; allowed: an object");
            }
        }
    }

    static boolean isHex(String text, int digits) {
        if (text.length() != digits) {
            return false;
        }
        for (int i = 0; i < digits; i++) {
            char c = text.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
                return false;
            }
        }
        return true;
    }

    /** At most 40 characters of {@code text}, control characters escaped, for a one-line message. */
    private static String abbreviate(String text) {
        StringBuilder sb = new StringBuilder();
        text.codePoints().limit(40).forEach(c -> {
            if (Character.isISOControl(c)) {
                sb.append(String.format("\\u%04x", c));
            } else {
                sb.appendCodePoint(c);
            }
        });
        return text.codePointCount(0, text.length()) > 40 ? sb + "..." : sb.toString();
    }
}
