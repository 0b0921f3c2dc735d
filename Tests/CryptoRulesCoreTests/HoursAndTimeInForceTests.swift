import CryptoRulesCore
import Foundation
import Testing

@Suite("CRY-07, CRY-08: hours and times in force")
struct HoursAndTimeInForceTests {
    private func buy(at date: Date) -> Result<PricedOrder, Refusal> {
        Fixture.evaluate(Fixture.marketBuy(100), mark: Fixture.mark(at: date), at: date)
    }

    private func sell(at date: Date) -> Result<PricedOrder, Refusal> {
        Fixture.evaluate(Fixture.limit(.sell, quantity: Fixture.d("0.01"), price: 50_000),
                         account: Fixture.account(btc: 1), mark: nil, at: date)
    }

    @Test func testCRY07_fridayAtFourPMStartsClosingOnly() throws {
        #expect(buy(at: Fixture.newYork(2026, 11, 20, 15, 59, 59)).order != nil)
        #expect(buy(at: Fixture.newYork(2026, 11, 20, 16, 0, 0)).refusal?.ruleID == "CRY-07")
        #expect(sell(at: Fixture.newYork(2026, 11, 20, 16, 0, 0)).order != nil)
        #expect(buy(at: Fixture.newYork(2026, 11, 21, 12)).refusal?.ruleID == "CRY-07")
    }

    @Test func testCRY07_sundayAtThreeAMReopens() throws {
        #expect(buy(at: Fixture.newYork(2026, 11, 22, 2, 59, 59)).refusal?.ruleID == "CRY-07")
        #expect(buy(at: Fixture.newYork(2026, 11, 22, 3, 0, 0)).order != nil)
        #expect(sell(at: Fixture.newYork(2026, 11, 22, 2, 59, 59)).order != nil)
    }

    @Test func testCRY07_springForwardSunday() throws {
        // 8 March 2026: 02:00 EST jumps to 03:00 EDT. 03:00 EDT is 07:00 UTC; a second before
        // is 01:59:59 EST (06:59:59 UTC), still closing-only.
        #expect(buy(at: Fixture.utc(2026, 3, 8, 6, 59, 59)).refusal?.ruleID == "CRY-07")
        #expect(buy(at: Fixture.utc(2026, 3, 8, 7, 0, 0)).order != nil)
        // The Friday before, in standard time: 16:00 EST is 21:00 UTC.
        #expect(buy(at: Fixture.utc(2026, 3, 6, 20, 59, 59)).order != nil)
        #expect(buy(at: Fixture.utc(2026, 3, 6, 21, 0, 0)).refusal?.ruleID == "CRY-07")
    }

    @Test func testCRY07_fallBackSunday() throws {
        // 1 November 2026: 02:00 EDT falls back to 01:00 EST. 03:00 EST is 08:00 UTC.
        #expect(buy(at: Fixture.utc(2026, 11, 1, 7, 59, 59)).refusal?.ruleID == "CRY-07")
        #expect(buy(at: Fixture.utc(2026, 11, 1, 8, 0, 0)).order != nil)
        // The Friday before, in daylight time: 16:00 EDT is 20:00 UTC.
        #expect(buy(at: Fixture.utc(2026, 10, 30, 19, 59, 59)).order != nil)
        #expect(buy(at: Fixture.utc(2026, 10, 30, 20, 0, 0)).refusal?.ruleID == "CRY-07")
    }

    @Test func testCRY08_buyMarketIsIOCOnly() throws {
        for tif in [TimeInForce.minutes, .day, .gtc] {
            var intent = Fixture.marketBuy(100)
            intent.timeInForce = tif
            #expect(Fixture.evaluate(intent).refusal?.ruleID == "CRY-08", "\(tif)")
        }
        #expect(Fixture.evaluate(Fixture.marketBuy(100)).order?.timeInForce == .ioc)
    }

    @Test func testCRY08_buyLimitIsIOCOrMinutes() throws {
        for tif in [TimeInForce.ioc, .minutes] {
            #expect(Fixture.evaluate(Fixture.limit(.buy, quantity: 1, price: 50, tif: tif)).order != nil, "\(tif)")
        }
        for tif in [TimeInForce.day, .gtc] {
            #expect(Fixture.evaluate(Fixture.limit(.buy, quantity: 1, price: 50, tif: tif)).refusal?.ruleID == "CRY-08")
        }
    }

    @Test func testCRY08_sellTakesEveryTimeInForce() throws {
        for tif in [TimeInForce.ioc, .minutes, .day, .gtc] {
            let order = Fixture.evaluate(Fixture.limit(.sell, quantity: Fixture.d("0.01"), price: 50_000, tif: tif),
                                         account: Fixture.account(btc: 1))
            #expect(order.order != nil, "\(tif)")
        }
        var missing = Fixture.marketBuy(100)
        missing.timeInForce = nil
        #expect(Fixture.evaluate(missing).refusal?.ruleID == "CRY-08")
    }

    @Test func testCRY08_expiryTimes() throws {
        let calendar = TradingCalendar(settings: Fixture.settings)
        let accepted = Fixture.newYork(2026, 11, 24, 10)
        #expect(calendar.expiry(of: .minutes, acceptedAt: accepted) == accepted.addingTimeInterval(300))
        #expect(calendar.expiry(of: .day, acceptedAt: accepted) == Fixture.newYork(2026, 11, 24, 16))
        #expect(calendar.expiry(of: .day, acceptedAt: Fixture.newYork(2026, 11, 24, 16)) == Fixture.newYork(2026, 11, 25, 16))
        #expect(calendar.expiry(of: .gtc, acceptedAt: accepted) == nil)
        // Across the fall-back change the day still ends at 16:00 New York (21:00 UTC, not 20:00).
        #expect(calendar.expiry(of: .day, acceptedAt: Fixture.utc(2026, 10, 31, 21)) == Fixture.utc(2026, 11, 1, 21))
    }
}

@Suite("The market wall clock agrees with Foundation's calendar")
struct WallClockTests {
    @Test func arithmeticWallClockMatchesCalendarAcrossAYearAndBothDSTChanges() throws {
        let calendar = TradingCalendar(settings: CryptoSettings())
        var reference = Calendar(identifier: .gregorian)
        reference.timeZone = TimeZone(identifier: "America/New_York")!
        var date = Fixture.utc(2025, 12, 28, 0, 17, 3)
        // Every 7 hours 13 minutes for a year: every hour of the day and weekday, both DST changes.
        for _ in 0..<1300 {
            let expected = reference.dateComponents([.year, .month, .day, .weekday, .hour], from: date)
            let clock = calendar.wallClock(date)
            #expect(clock.year == expected.year && clock.month == expected.month && clock.day == expected.day
                    && clock.weekday == expected.weekday && clock.hour == expected.hour, "\(date)")
            let month = String(format: "%04d-%02d", expected.year ?? 0, expected.month ?? 0)
            #expect(calendar.month(of: date) == month, "\(date)")
            date = date.addingTimeInterval(7 * 3600 + 13 * 60)
        }
        #expect(calendar.month(of: Fixture.newYork(2026, 3, 1, 0, 30)) == "2026-03")
        // Past four-digit years the month is still written out whole.
        #expect(calendar.month(of: Date(timeIntervalSince1970: 253_402_387_200)) == "10000-01")
        #expect(calendar.day(of: Fixture.utc(2026, 11, 1, 3, 30)) == "2026-10-31")
    }

    @Test func moneyParsingAcceptsPlainDecimalsOnly() throws {
        #expect(Money.parse("10") == 10)
        #expect(Money.parse("0.00012345")?.units == 123_450_000_000_000)
        #expect(Money.parse("-3.5")?.units == -3_500_000_000_000_000_000)
        #expect(Money.parse("0.000000000000000001")?.units == 1)
        #expect(Money.parse("0.0000000000000000001") == nil)  // 19 decimals
        #expect(Money.parse("99999999999999999999") != nil)  // 20 whole digits
        #expect(Money.parse("1000000000000000000000") == nil)
        for bad in ["", "1.", ".5", "1.2.3", "1e5", "1,000", " 1", "abc", "-", "1-2", "0x10", "--1"] {
            #expect(Money.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func amountArithmeticIsExact() throws {
        let d = Fixture.d
        #expect(try d("0.1") + d("0.2") == d("0.3"))
        #expect(try d("0.00000001") * 50_000 == d("0.0005"))
        #expect(try d("97994") - 2940 - d("8.82") == d("95045.18"))
        #expect(try (d("1000") / d("30000")).description == "0.033333333333333333")
        #expect(try d("-7") / 2 == d("-3.5"))
        #expect(try d("12345678901234.5678") * d("0.0025") == d("30864197253.0864195"))
        #expect(Money.cents(d("2.345")) == d("2.35"))
        #expect(Money.cents(d("-2.345")) == d("-2.35"))
        #expect(Money.cents(d("2.344999")) == d("2.34"))
        #expect(try Money.floor(d("0.123456789"), toMultipleOf: d("0.00000001")) == d("0.12345678"))
        #expect(try Money.floor(d("10"), toMultipleOf: d("0.25")) == 10)
        #expect(try Money.floor(d("10.3"), toMultipleOf: d("0.25")) == d("10.25"))
        #expect(Money.text(d("97994.000")) == "97994")
        #expect(Money.text(d("-0.05")) == "-0.05")
        #expect(Money.text(0) == "0")
        // Whole parts beyond 64 bits still print exactly.
        #expect(Money.text(d("99999999999999999999.000000000000000001")) == "99999999999999999999.000000000000000001")
    }
}
