package dev.ppexec.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.ppexec.model.ModelConfig;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model shape from a JSON file ({@code --model-file}), for shapes other than the presets:
 * <pre>{"name": "wide", "vocab": 4096, "dim": 768, "heads": 12, "layers": 6, "ffn": 3072, "max_seq": 512}</pre>
 * Strict: every key is required, unknown or repeated keys and values of the wrong type are
 * refused, each with the line they are on, and every size has an upper bound, so a typo never
 * becomes a run that allocates terabytes. Whether the model fits the machine is checked later,
 * against {@link dev.ppexec.stage.MemoryPlan}.
 */
final class ModelFile {

    /** Upper bounds of each key: generous for a toy executor, far below what would overflow an index. */
    private static final Map<String, Integer> LIMITS = limits();

    /** Nesting and size limits for the parser itself: a model file is a few hundred bytes. */
    private static final long MAX_FILE_BYTES = 64 * 1024;

    private ModelFile() {}

    private static Map<String, Integer> limits() {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("vocab", 1 << 20);
        m.put("dim", 1 << 16);
        m.put("heads", 1 << 10);
        m.put("layers", 1 << 12);
        m.put("ffn", 1 << 18);
        m.put("max_seq", 1 << 20);
        return m;
    }

    /** Reads {@code file}; any problem is a {@link UsageException} of one line naming the file, line and key. */
    static ModelConfig read(Path file, long seed) {
        String where = "--model-file " + file;
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            // A FIFO would block the read forever, a device never ends: only a regular file is read.
            throw new UsageException(where + ": not a regular file (a folder, a FIFO or a device); allowed: a JSON file "
                    + "of the model's shape");
        }
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new UsageException(where + ": no such file; allowed: a JSON file of the model's shape");
        } catch (IOException e) {
            throw new UsageException(where + ": cannot read it (" + e.getMessage() + ")");
        }
        if (size > MAX_FILE_BYTES) {
            throw new UsageException(where + ": " + size + " bytes; allowed: at most " + MAX_FILE_BYTES
                    + " bytes (a model file holds seven keys)");
        }
        JsonFactory json = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8).maxNumberLength(32).build())
                .build();
        String name = null;
        Map<String, Integer> values = new LinkedHashMap<>();
        try (InputStream in = Files.newInputStream(file); JsonParser p = json.createParser(in)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw bad(where, p, "does not start with '{'; allowed: one JSON object");
            }
            for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
                String key = p.currentName();
                JsonToken value = p.nextToken();
                if (!key.equals("name") && !LIMITS.containsKey(key)) {
                    throw bad(where, p, "unknown key '" + key + "'; allowed: name, " + String.join(", ", LIMITS.keySet()));
                }
                if (key.equals("name") ? name != null : values.containsKey(key)) {
                    throw bad(where, p, "key '" + key + "' appears twice; allowed: each key once");
                }
                if (key.equals("name")) {
                    if (value != JsonToken.VALUE_STRING || p.getText().isBlank() || p.getText().length() > 64) {
                        throw bad(where, p, "name " + p.getText() + " is not a string of 1..64 characters");
                    }
                    if (p.getText().codePoints().anyMatch(Character::isISOControl)) {
                        throw bad(where, p, "name '" + p.getText() + "' has a control character; allowed: printable "
                                + "characters (the name is printed in every summary)");
                    }
                    name = p.getText();
                    continue;
                }
                int limit = LIMITS.get(key);
                if (value != JsonToken.VALUE_NUMBER_INT) {
                    throw bad(where, p, key + " " + shown(p, value) + " is not an integer; allowed: 1.." + limit);
                }
                if (p.getNumberType() != JsonParser.NumberType.INT || p.getIntValue() < 1 || p.getIntValue() > limit) {
                    throw bad(where, p, key + " " + p.getText() + " is out of range; allowed: 1.." + limit);
                }
                values.put(key, p.getIntValue());
            }
            if (p.nextToken() != null) {
                throw bad(where, p, "has more after the object; allowed: one JSON object");
            }
        } catch (JsonProcessingException e) {
            throw new UsageException(where + " line " + e.getLocation().getLineNr() + ": not valid JSON ("
                    + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new UsageException(where + ": cannot read it (" + e.getMessage() + ")");
        }
        for (String key : LIMITS.keySet()) {
            if (!values.containsKey(key)) {
                throw new UsageException(where + ": key '" + key + "' is missing; allowed: a file with name, "
                        + String.join(", ", LIMITS.keySet()));
            }
        }
        if (name == null && file.getFileName().toString().codePoints().anyMatch(Character::isISOControl)) {
            throw new UsageException(where + ": no 'name' key, and the file's name has a control character; allowed: "
                    + "a 'name' key, or a file name of printable characters");
        }
        try {
            return new ModelConfig(name == null ? file.getFileName().toString() : name, values.get("vocab"),
                    values.get("dim"), values.get("heads"), values.get("layers"), values.get("ffn"),
                    values.get("max_seq"), seed);
        } catch (IllegalArgumentException e) {
            throw new UsageException(where + ": " + e.getMessage());
        }
    }

    private static String shown(JsonParser p, JsonToken value) throws IOException {
        return value == JsonToken.VALUE_STRING ? "\"" + p.getText() + "\"" : p.getText();
    }

    private static UsageException bad(String where, JsonParser p, String what) {
        return new UsageException(where + " line " + p.currentLocation().getLineNr() + ": " + what);
    }
}
