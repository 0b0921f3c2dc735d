@testable import ChallengeVerificationCore
import Testing

/// RFC 6287 Appendix C: every vector, one-way, mutual and signature.
private func hex(_ text: String) -> [UInt8] {
    stride(from: 0, to: text.count, by: 2).map {
        let start = text.index(text.startIndex, offsetBy: $0)
        return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
    }
}

private let key20 = hex("3132333435363738393031323334353637383930")
private let key32 = hex("3132333435363738393031323334353637383930313233343536373839303132")
private let key64 = hex("31323334353637383930313233343536373839303132333435363738393031323334353637383930"
                        + "313233343536373839303132333435363738393031323334")
private let timeSteps: UInt64 = 0x132d0b6

private func ocra(_ suite: String, _ key: [UInt8], _ input: OCRAInput) throws -> String {
    try OCRA.response(suite: OCRASuite(suite), key: key, input: input)
}

@Suite("OCRA, RFC 6287 Appendix C")
struct OCRATests {
    @Test func oneWaySHA1SixDigits() throws {
        let expected = ["237653", "243178", "653583", "740991", "608993", "388898", "816933", "224598", "750600", "294470"]
        for (digit, response) in expected.enumerated() {
            let question = String(repeating: String(digit), count: 8)
            #expect(try ocra("OCRA-1:HOTP-SHA1-6:QN08", key20, OCRAInput(question: question)) == response)
        }
    }

    @Test func oneWaySHA256WithCounterAndPIN() throws {
        let expected = ["65347737", "86775851", "78192410", "71565254", "10104329", "65983500", "70069104", "91771096",
                        "75011558", "08522129"]
        for (counter, response) in expected.enumerated() {
            #expect(try ocra("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", key32,
                             OCRAInput(question: "12345678", counter: UInt64(counter), pin: "1234")) == response)
        }
    }

    @Test func oneWaySHA256WithPIN() throws {
        let expected = ["83238735", "01501458", "17957585", "86776967", "86807031"]
        for (digit, response) in expected.enumerated() {
            let question = String(repeating: String(digit), count: 8)
            #expect(try ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", key32, OCRAInput(question: question, pin: "1234")) == response)
        }
    }

    @Test func oneWaySHA512WithCounter() throws {
        let expected = ["07016083", "63947962", "70123924", "25341727", "33203315", "34205738", "44343969", "51946085",
                        "20403879", "31409299"]
        for (counter, response) in expected.enumerated() {
            let question = String(repeating: String(counter), count: 8)
            #expect(try ocra("OCRA-1:HOTP-SHA512-8:C-QN08", key64,
                             OCRAInput(question: question, counter: UInt64(counter))) == response)
        }
    }

    @Test func oneWaySHA512WithTime() throws {
        let expected = ["95209754", "55907591", "22048402", "24218844", "36209546"]
        for (digit, response) in expected.enumerated() {
            let question = String(repeating: String(digit), count: 8)
            #expect(try ocra("OCRA-1:HOTP-SHA512-8:QN08-T1M", key64, OCRAInput(question: question, timeSteps: timeSteps))
                    == response)
        }
    }

    @Test func mutualChallengeResponse() throws {
        let server256 = ["28247970", "01984843", "65387857", "03351211", "83412541"]
        let client256 = ["15510767", "90175646", "33777207", "95285278", "28934924"]
        let server512 = ["79496648", "76831980", "12250499", "90856481", "12761449"]
        let client512 = ["18806276", "70020315", "01600026", "18951020", "32528969"]
        for index in 0..<5 {
            let client = "CLI2222\(index)", server = "SRV1111\(index)"
            #expect(try ocra("OCRA-1:HOTP-SHA256-8:QA08", key32, OCRAInput(question: client + server)) == server256[index])
            #expect(try ocra("OCRA-1:HOTP-SHA256-8:QA08", key32, OCRAInput(question: server + client)) == client256[index])
            #expect(try ocra("OCRA-1:HOTP-SHA512-8:QA08", key64, OCRAInput(question: client + server)) == server512[index])
            #expect(try ocra("OCRA-1:HOTP-SHA512-8:QA08-PSHA1", key64, OCRAInput(question: server + client, pin: "1234"))
                    == client512[index])
        }
    }

    @Test func signatures() throws {
        let plain = ["53095496", "04110475", "31331128", "76028668", "46554205"]
        let timed = ["77537423", "31970405", "10235557", "95213541", "65360607"]
        for index in 0..<5 {
            #expect(try ocra("OCRA-1:HOTP-SHA256-8:QA08", key32, OCRAInput(question: "SIG1\(index)000")) == plain[index])
            #expect(try ocra("OCRA-1:HOTP-SHA512-8:QA10-T1M", key64,
                             OCRAInput(question: "SIG1\(index)00000", timeSteps: timeSteps)) == timed[index])
        }
    }

    @Test func verificationIsExactAndInputsAreChecked() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08")
        #expect(try OCRA.verify("237653", suite: suite, key: key20, input: OCRAInput(question: "00000000")))
        #expect(try !OCRA.verify("237654", suite: suite, key: key20, input: OCRAInput(question: "00000000")))
        #expect(try !OCRA.verify("2376530", suite: suite, key: key20, input: OCRAInput(question: "00000000")))
        #expect(throws: OCRAError.self) { _ = try OCRA.response(suite: suite, key: key20, input: OCRAInput(question: "12a")) }
        #expect(throws: OCRAError.self) {
            _ = try OCRA.response(suite: suite, key: key20, input: OCRAInput(question: String(repeating: "9", count: 129)))
        }
        #expect(throws: OCRAError.missingInput("PIN")) {
            _ = try ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", key32, OCRAInput(question: "1"))
        }
        for bad in ["OCRA-2:HOTP-SHA1-6:QN08", "OCRA-1:HOTP-MD5-6:QN08", "OCRA-1:HOTP-SHA1-3:QN08",
                    "OCRA-1:HOTP-SHA1-6:QX08", "OCRA-1:HOTP-SHA1-6:C", "OCRA-1:HOTP-SHA1-6:QN08-T1D"] {
            #expect(throws: OCRAError.self, "\(bad)") { _ = try OCRASuite(bad) }
        }
    }
}
