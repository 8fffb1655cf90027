package dev.ppexec.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class PrintableTest {

    @ParameterizedTest(name = "U+{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "000a | \\n", "000d | \\r", "0009 | \\t", "001b | \\e", "0000 | \\x00", "0007 | \\x07", "001f | \\x1f",
            "007f | \\x7f", "0085 | \\x85", "009b | \\x9b", "2028 | \\u2028", "2029 | \\u2029"})
    void text_showsEachControlCharacterEscaped(String hex, String shown) {
        char c = (char) Integer.parseInt(hex, 16);
        assertThat(Printable.text("a" + c + "b")).isEqualTo("a" + shown + "b");
    }

    @Test
    void text_keepsEverythingElseAsItIs() {
        String kept = "plain/path with spaces, \\backslash\\, ünïcödé, 数据, \u00a0nbsp, emoji \ud83d\ude00";
        assertThat(Printable.text(kept)).isSameAs(kept);
    }

    @Test
    void path_ofAFileNamedWithALineBreakAndAnEscape_isOneLineWithoutTheEscape() {
        String shown = Printable.path(Path.of("out", "a\nb\u001b[2J.json"));
        assertThat(shown).isEqualTo("out/a\\nb\\e[2J.json");
    }
}
