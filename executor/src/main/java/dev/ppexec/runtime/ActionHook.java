package dev.ppexec.runtime;

import dev.ppexec.schedule.Action;

/** Called on a rank's thread before it runs each action: a test hook for injecting faults. */
@FunctionalInterface
public interface ActionHook {

    ActionHook NONE = (rank, action) -> {};

    void beforeAction(int rank, Action action) throws Exception;
}
