package dev.ppexec.perfetto;

import dev.ppexec.otlp.ReadSummary;

import java.util.List;

/** What {@link PerfettoConverter#convert} read and wrote, and what the files lack of their world (one sentence each). */
public record ConvertResult(ReadSummary read, TraceCounts written, List<String> warnings) {}
