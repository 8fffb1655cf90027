package dev.ppexec.perfetto;

/** What {@link PerfettoConverter#convert} read and wrote. */
public record ConvertResult(ReadSummary read, TraceCounts written) {}
