package dev.ppexec.perfetto;

import dev.ppexec.otlp.ReadSummary;
/** What {@link PerfettoConverter#convert} read and wrote. */
public record ConvertResult(ReadSummary read, TraceCounts written) {}
