import ReservoirHAL
import ReservoirHardware
import Testing

@Suite struct NativeLibraryTests {
    @Test func linksDebianTwelvesLibiioAndLibgpiod() {
        #expect(NativeLibraries.iioVersion.hasPrefix("0.24"))
        #expect(NativeLibraries.gpiodVersion.hasPrefix("1.6"))
    }

    @Test func monotonicClockSleepsUntilTheDeadline() {
        let clock = MonotonicClock()
        let start = clock.now()
        let deadline = start + .milliseconds(5)
        clock.sleep(until: deadline)
        #expect(clock.now() >= deadline)
        // A deadline in the past returns at once and the clock never goes backwards.
        clock.sleep(until: start)
        #expect(clock.now() >= deadline)
    }
}
