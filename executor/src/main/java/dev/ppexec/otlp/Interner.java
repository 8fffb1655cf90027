package dev.ppexec.otlp;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Equal values share one small id, so a slice column holds an int instead of a reference. */
final class Interner<T> {

    private final Map<T, Integer> ids = new HashMap<>();
    private final List<T> values = new ArrayList<>();

    int id(T value) {
        Integer id = ids.get(value);
        if (id == null) {
            id = values.size();
            ids.put(value, id);
            values.add(value);
        }
        return id;
    }

    T value(int id) {
        return values.get(id);
    }

    int size() {
        return values.size();
    }
}
