import Foundation
import Logging
import Synchronization
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import IdentityService

@Suite("Identity end to end: authentication")
struct AuthenticationTests {
    @Test("sign-in gives a 15-minute access token and a refresh token; wrong credentials all get the same answer")
    func signIn() async throws {
        try await withIdentity { identity in
            let tokens = try await identity.admin()
            #expect(tokens.accessExpiresAt.timeIntervalSince(identity.clock.now()) == 15 * 60)
            #expect(tokens.refreshToken?.hasPrefix("rt_") == true)
            #expect(Set(tokens.roles).isSuperset(of: [Role.organisationAdmin, Role.platformAdmin]))
            let me = try await identity.call(Identity.whoAmI, token: tokens.accessToken)
            #expect(me.subject == tokens.subject)
            #expect(me.kind == "person")

            var messages: Set<String> = []
            for (organisation, email, password) in [
                ("acme", "admin@acme.example", "wrong password!!"), ("acme", "nobody@acme.example", "wrong password!!"),
                ("nowhere", "admin@acme.example", IdentityHarness.adminPassword),
            ] {
                let error = await expectRPCError(.unauthenticated) {
                    _ = try await identity.signIn(email, password, organisation: organisation)
                }
                messages.insert(error?.message ?? "")
            }
            #expect(messages.count == 1, "the answer does not reveal which part was wrong: \(messages)")
            // Emails are matched without case.
            _ = try await identity.signIn("ADMIN@Acme.Example", IdentityHarness.adminPassword)
            await expectRPCError(.invalidArgument) { _ = try await identity.signIn("", "") }
        }
    }

    @Test("bootstrap stores the admin's email normalised, so an admin typed with capitals can sign in; a bad email is refused, naming the field, and creates nothing")
    func bootstrapNormalisesEmail() async throws {
        let directory = temporaryDirectory()
        let clock = TestClock()
        var configuration = IdentityConfiguration()
        configuration.scryptLogN = 10
        configuration.now = clock.now
        let server = try await IdentityServer.open(dataDirectory: directory, configuration: configuration, logger: Logger(label: "test.identity"))
        do {
            let bad = await expectRPCError(.invalidArgument) {
                _ = try await server.bootstrap(
                    organisationName: "Big", slug: "big", admin: personInput("not an email"), password: IdentityHarness.adminPassword
                )
            }
            #expect(bad?.fieldViolations.map { "\($0.field) \($0.rule)" } == ["admin.email format"])
            #expect(try await server.store.organisationCount() == 0, "a refused bootstrap can be run again")
            let (_, admin) = try await server.bootstrap(
                organisationName: "Big", slug: "big", admin: personInput(" Boss@Big.Example "), password: IdentityHarness.adminPassword
            )
            #expect(admin.email == "boss@big.example")
        } catch {
            server.close()
            throw error
        }
        server.close()
        try await withIdentity(directory: directory, clock: clock) { identity in
            for typed in ["Boss@Big.Example", "boss@big.example"] {
                let tokens = try await identity.signIn(typed, IdentityHarness.adminPassword, organisation: "big")
                #expect(tokens.roles.contains(Role.platformAdmin))
            }
        }
    }

    @Test("methods need a valid token; an expired one is refused and the refresh token gets a new one")
    func tokensExpire() async throws {
        try await withIdentity { identity in
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.whoAmI) }
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.whoAmI, token: "not.a.jwt") }
            let tokens = try await identity.admin()
            // A token whose signature does not match its contents.
            var parts = tokens.accessToken.split(separator: ".").map(String.init)
            parts[2] = String(parts[2].reversed())
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.whoAmI, token: parts.joined(separator: ".")) }

            identity.clock.advance(15 * 60 + 1)
            let expired = await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.whoAmI, token: tokens.accessToken) }
            #expect(expired?.message.contains("expired") == true)
            let renewed = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: tokens.refreshToken!))
            _ = try await identity.call(Identity.whoAmI, token: renewed.accessToken)
        }
    }

    @Test("a family keeps its last 20 used refresh tokens: a session refreshed for weeks does not grow without bound; reuse of a kept one still revokes it")
    func refreshChainIsBounded() async throws {
        try await withIdentity { identity in
            let start = try await identity.admin()
            var chain = [start.refreshToken!]
            for _ in 0..<40 {
                chain.append(try await identity.call(Identity.refresh, RefreshRequest(refreshToken: chain.last!)).refreshToken!)
            }
            let latest = secretDigest(chain.last!)
            let rows = try await identity.identity.store.database.read { connection in
                try connection.first(
                    "SELECT count(*), sum(used) FROM refresh_tokens WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
                    latest
                )
            }
            #expect(rows?.int(0) == Int64(IdentityStore.keptUsedTokens + 1) && rows?.int(1) == Int64(IdentityStore.keptUsedTokens))
            // The oldest used tokens are gone: presented again they are just invalid, and the
            // session goes on.
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: chain[0])) }
            chain.append(try await identity.call(Identity.refresh, RefreshRequest(refreshToken: chain.last!)).refreshToken!)
            // A recent one presented again is reuse: the family is revoked, newest token included.
            let reuse = await expectRPCError(.unauthenticated) {
                _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: chain[chain.count - 3]))
            }
            #expect(reuse?.message.contains("already used") == true)
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: chain.last!)) }
        }
    }

    @Test("refresh tokens rotate on use; presenting a used one revokes the whole family; sign-out revokes")
    func refreshRotation() async throws {
        try await withIdentity { identity in
            let first = try await identity.admin()
            let second = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: first.refreshToken!))
            #expect(second.refreshToken != first.refreshToken)
            let third = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: second.refreshToken!))

            // Someone replays the first token: that family is finished, including the newest token.
            let reuse = await expectRPCError(.unauthenticated) {
                _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: first.refreshToken!))
            }
            #expect(reuse?.message.contains("already used") == true)
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: third.refreshToken!)) }

            // Another sign-in (another device) is a separate family and is not affected.
            let other = try await identity.admin()
            let otherNext = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: other.refreshToken!))
            _ = try await identity.call(Identity.signOut, RefreshRequest(refreshToken: otherNext.refreshToken!))
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: otherNext.refreshToken!)) }
            // Signing out twice, or with an unknown token, is fine (idempotent).
            _ = try await identity.call(Identity.signOut, RefreshRequest(refreshToken: otherNext.refreshToken!))
            _ = try await identity.call(Identity.signOut, RefreshRequest(refreshToken: "rt_unknown"))
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: "rt_made_up")) }

            // Refresh tokens expire.
            let late = try await identity.admin()
            identity.clock.advance(31 * 24 * 3600)
            let expired = await expectRPCError(.unauthenticated) {
                _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: late.refreshToken!))
            }
            #expect(expired?.message.contains("expired") == true)
        }
    }

    @Test("sign-in refuses an organisation or email longer than any can be, naming the field, before anything is counted")
    func signInLengths() async throws {
        try await withIdentity { identity in
            let long = await expectRPCError(.invalidArgument) {
                _ = try await identity.signIn(String(repeating: "a", count: 250) + "@acme.example", "wrong password!!")
            }
            #expect(long?.message.contains("email") == true)
            let organisation = await expectRPCError(.invalidArgument) {
                _ = try await identity.call(Identity.signIn, SignInRequest(organisation: String(repeating: "o", count: 41), email: "a@acme.example", password: "wrong password!!"))
            }
            #expect(organisation?.message.contains("organisation") == true)
            // Refused, not failed: the account's five free failures are all still there.
            for _ in 0..<5 {
                await expectRPCError(.unauthenticated) { _ = try await identity.signIn("admin@acme.example", "wrong password!!") }
            }
            _ = try await identity.signIn("admin@acme.example", IdentityHarness.adminPassword)
        }
    }

    @Test("failed sign-ins lock the account with growing back-off, the same for unknown emails; per client too")
    func lockout() async throws {
        try await withIdentity { identity in
            let right = IdentityHarness.adminPassword
            // Five free failures, the sixth starts a 1 s lock.
            for _ in 0..<6 {
                await expectRPCError(.unauthenticated) { _ = try await identity.signIn("admin@acme.example", "wrong password!!") }
            }
            let locked = await expectRPCError(.resourceExhausted) { _ = try await identity.signIn("admin@acme.example", right) }
            #expect(locked?.metadata[Metadata.Keys.retryAfter] == "1000")
            identity.clock.advance(1)
            // Another failure doubles the lock to 2 s.
            await expectRPCError(.unauthenticated) { _ = try await identity.signIn("admin@acme.example", "wrong password!!") }
            identity.clock.advance(1)
            await expectRPCError(.resourceExhausted) { _ = try await identity.signIn("admin@acme.example", right) }
            identity.clock.advance(1)
            _ = try await identity.signIn("admin@acme.example", right)

            // An email that does not exist behaves exactly the same (no account enumeration).
            for _ in 0..<6 {
                await expectRPCError(.unauthenticated) { _ = try await identity.signIn("ghost@acme.example", "wrong password!!") }
            }
            await expectRPCError(.resourceExhausted) { _ = try await identity.signIn("ghost@acme.example", "wrong password!!") }

            // One client guessing many accounts is slowed down too (20 free failures per client).
            for index in 0..<8 {
                await expectRPCError(.unauthenticated) { _ = try await identity.signIn("guess\(index)@acme.example", "wrong password!!") }
            }
            let client = await expectRPCError(.resourceExhausted) { _ = try await identity.signIn("fresh@acme.example", "wrong password!!") }
            #expect(client?.message.contains("too many failed sign-ins") == true)
        }
    }

    @Test("wrong passwords sent at once: attempts in flight count, so only the free failures reach the password check; the rest must wait; the right password still works")
    func concurrentFailures() async throws {
        let gate = PasswordCheckGate()
        try await withIdentity(configure: { $0.beforeCredentialCheck = { await gate.arrive() } }) { identity in
            let attempts = 12
            let (arrived, errors) = try await gate.sendAtOnce(attempts) {
                _ = try await identity.signIn("admin@acme.example", "wrong password!!")
            }
            #expect(arrived == 5, "the account's five free failures, not one per attempt sent")
            #expect(errors.filter { $0.code == .unauthenticated }.count == 5)
            let waits = errors.filter { $0.code == .resourceExhausted }
            #expect(waits.count == attempts - 5)
            for wait in waits {
                #expect(wait.metadata[Metadata.Keys.retryAfter] == "1000" && wait.details.contains(.retryInfo(retryDelayMilliseconds: 1000)))
            }
            // Five failures are recorded, as if they came one by one: the right password is the
            // sixth attempt and still works.
            _ = try await identity.admin()
        }
    }

    @Test("key rotation: new tokens use the new key, old ones work through the overlap, other services follow")
    func keyRotation() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin()
            // Another service verifies tokens locally, with keys fetched over RPC.
            let client = identity.client
            let clock = identity.clock
            let remote = TokenVerifier(refreshInterval: 3600, now: clock.now) {
                try await client.call(Identity.verificationKeys, Empty())
            }
            #expect(try await remote.verify(admin.accessToken).subject == admin.subject)
            let before = try await identity.call(Identity.verificationKeys)
            #expect(before.keys.count == 1)
            #expect(before.keys[0].publicKey.count == 32 && before.keys[0].algorithm == "EdDSA")

            let person = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("pat@acme.example"), password: "pat's long password"), token: admin.accessToken)
            let pat = try await identity.signIn(person.email, "pat's long password")
            await expectRPCError(.permissionDenied) { _ = try await identity.call(Identity.rotateSigningKey, RotateSigningKeyRequest(), token: pat.accessToken) }
            await expectRPCError(.invalidArgument) { _ = try await identity.call(Identity.rotateSigningKey, RotateSigningKeyRequest(overlapSeconds: -1), token: admin.accessToken) }

            let rotated = try await identity.call(Identity.rotateSigningKey, RotateSigningKeyRequest(overlapSeconds: 120), token: admin.accessToken)
            #expect(rotated.keys.count == 2)
            #expect(rotated.keys[0].acceptedUntil == clock.now().addingTimeInterval(120))
            let fresh = try await identity.admin()
            #expect(TokenVerifier.keyID(of: fresh.accessToken) == rotated.keys[1].keyID)
            #expect(TokenVerifier.keyID(of: admin.accessToken) == rotated.keys[0].keyID)

            // Within the overlap both work, here and in the other service (which fetches the
            // new key when it first sees its id).
            _ = try await identity.call(Identity.whoAmI, token: admin.accessToken)
            _ = try await identity.call(Identity.whoAmI, token: fresh.accessToken)
            clock.advance(11)
            #expect(try await remote.verify(fresh.accessToken).subject == admin.subject)
            #expect(try await remote.verify(admin.accessToken).subject == admin.subject)

            clock.advance(120)
            let retired = await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.whoAmI, token: admin.accessToken) }
            #expect(retired?.message.contains("retired") == true)
            await #expect(throws: RPCError.self) { _ = try await remote.verify(admin.accessToken) }
            _ = try await identity.call(Identity.whoAmI, token: fresh.accessToken)
            #expect(try await identity.call(Identity.verificationKeys).keys.map(\.keyID) == [rotated.keys[1].keyID])
        }
    }

    @Test("service accounts: API keys are shown once, exchanged for scoped tokens, usable directly, and revocable")
    func apiKeys() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            await expectRPCError(.invalidArgument) {
                _ = try await identity.call(Identity.createServiceAccount, CreateServiceAccountRequest(name: "hr-sync", scopes: ["identity.Import People", "x"]), token: admin)
            }
            let account = try await identity.call(
                Identity.createServiceAccount, CreateServiceAccountRequest(name: "hr-sync", scopes: ["identity.ListPeople", "identity.GetPerson", "identity.WhoAmI"]), token: admin
            )
            await expectRPCError(.alreadyExists) {
                _ = try await identity.call(Identity.createServiceAccount, CreateServiceAccountRequest(name: "hr-sync", scopes: ["identity.*"]), token: admin)
            }
            let key = try await identity.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), token: admin)
            #expect(key.apiKey.hasPrefix("tdm_"))
            let listed = try await identity.call(Identity.listServiceAccounts, token: admin)
            #expect(listed.serviceAccounts.map(\.activeKeyIDs) == [[key.keyID]])
            #expect(!"\(listed)".contains(key.apiKey), "the key itself is never shown again")

            let tokens = try await identity.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: key.apiKey))
            #expect(tokens.refreshToken == nil)
            #expect(tokens.roles == [Role.service])
            let me = try await identity.call(Identity.whoAmI, token: tokens.accessToken)
            #expect(me.kind == "service" && me.scopes.contains("identity.ListPeople"))
            let page = try await identity.call(Identity.listPeople, ListPeopleRequest(), token: tokens.accessToken)
            #expect(page.people.count == 1)
            let denied = await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("x@acme.example")), token: tokens.accessToken)
            }
            #expect(denied?.message.contains("scopes") == true)

            // `authorization: ApiKey <key>` works without the exchange.
            var options = CallOptions()
            options.metadata[Metadata.Keys.authorization] = "ApiKey " + key.apiKey
            _ = try await identity.client.call(Identity.listPeople, ListPeopleRequest(), options: options)

            // A key with the right id but a wrong secret, and a revoked key, are refused.
            let forged = String(key.apiKey.dropLast(4)) + "AAAA"
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: forged)) }
            _ = try await identity.call(Identity.revokeAPIKey, APIKeyRef(keyID: key.keyID), token: admin)
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: key.apiKey)) }
            await expectRPCError(.unauthenticated) { _ = try await identity.client.call(Identity.listPeople, ListPeopleRequest(), options: options) }
            // Service accounts cannot mint keys for themselves.
            let second = try await identity.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), token: admin)
            var all = CallOptions()
            all.metadata[Metadata.Keys.authorization] = "ApiKey " + second.apiKey
            await expectRPCError(.permissionDenied) {
                _ = try await identity.client.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), options: all)
            }
        }
    }

    @Test("restart keeps people, passwords, signing keys and refresh tokens")
    func restart() async throws {
        let directory = temporaryDirectory()
        let clock = TestClock()
        let (access, refresh, personID) = try await withIdentity(directory: directory, clock: clock) { identity in
            let admin = try await identity.admin()
            let person = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("kept@acme.example"), password: "a password that lasts"), token: admin.accessToken)
            return (admin.accessToken, admin.refreshToken!, person.id)
        }
        try await withIdentity(directory: directory, clock: clock) { identity in
            _ = try await identity.call(Identity.whoAmI, token: access)
            let renewed = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: refresh))
            let person = try await identity.call(Identity.getPerson, PersonRef(personID: personID), token: renewed.accessToken)
            #expect(person.email == "kept@acme.example")
            _ = try await identity.signIn("kept@acme.example", "a password that lasts")
        }
    }

    @Test("a service account's scopes: an exact method or its service's wildcard; people are not limited by scopes")
    func scopes() {
        func caller(_ scopes: [String], service: Bool = true) -> AuthenticatedCaller {
            AuthenticatedCaller(subject: UUID(), organisationID: UUID(), isService: service, roles: [], programs: [], scopes: scopes, expiresAt: Date())
        }
        #expect(caller(["identity.*"]).scopeAllows("identity.ListPeople"))
        #expect(!caller(["identity.*"]).scopeAllows("scheduling.BookMeeting"))
        #expect(!caller(["identity.*"]).scopeAllows("identityx.ListPeople"))
        #expect(!caller(["identit.*"]).scopeAllows("identity.ListPeople"))
        #expect(!caller(["identity.List*"]).scopeAllows("identity.ListPeople"))
        #expect(caller(["x", "identity.GetPerson"]).scopeAllows("identity.GetPerson"))
        #expect(!caller(["identity.GetPerson"]).scopeAllows("identity.ListPeople"))
        #expect(caller(["health.*"]).scopeAllows("health"), "a method without a dot is its own service")
        #expect(!caller([]).scopeAllows("identity.GetPerson"))
        #expect(caller([], service: false).scopeAllows("identity.GetPerson"))
    }
}

/// Holds password checks until opened, counting those that arrive.
extension AuthenticationTests {
    @Test("wrong API keys sent at once from one client: exchanges in flight count, so only the client's free failures reach the key check; the rest must wait; a right key still works")
    func concurrentAPIKeyFailures() async throws {
        let gate = PasswordCheckGate()
        // Armed once the admin has signed in and made the key (her password check passes freely).
        let armed = Atomic<Bool>(false)
        try await withIdentity(configure: {
            $0.beforeCredentialCheck = { if armed.load(ordering: .relaxed) { await gate.arrive() } }
            $0.freeFailuresPerClient = 3
        }) { identity in
            let admin = try await identity.admin().accessToken
            let account = try await identity.call(
                Identity.createServiceAccount, CreateServiceAccountRequest(name: "hr-sync", scopes: ["identity.ListPeople"]), token: admin
            )
            let key = try await identity.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), token: admin)
            // The same key id with another secret: well-formed, and wrong.
            let wrong = String(key.apiKey.dropLast(4)) + (key.apiKey.hasSuffix("AAAA") ? "BBBB" : "AAAA")
            armed.store(true, ordering: .relaxed)
            let attempts = 8
            let (arrived, errors) = try await gate.sendAtOnce(attempts) {
                _ = try await identity.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: wrong))
            }
            #expect(arrived == 3, "the client's three free failures, not one per exchange sent")
            #expect(errors.filter { $0.code == .unauthenticated }.count == 3)
            #expect(errors.filter { $0.code == .resourceExhausted }.count == attempts - 3)
            // Three failures are recorded, as if they came one by one: the right key is the fourth
            // attempt and still works.
            let tokens = try await identity.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: key.apiKey))
            #expect(tokens.roles == [Role.service])
        }
    }
}

final class PasswordCheckGate: Sendable {
    private struct State {
        var arrived = 0
        var open = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var arrived: Int { state.withLock { $0.arrived } }

    /// Sends `attempts` calls at once, each expected to fail, and returns how many reached the
    /// gate and every call's error. Every call either waits here or has its answer before the gate
    /// opens (nothing moves on until then), so the count does not depend on timing; -1 if they
    /// did not settle within a minute.
    func sendAtOnce(_ attempts: Int, _ call: @escaping @Sendable () async throws -> Void) async throws -> (arrived: Int, errors: [RPCError]) {
        let answered = EventLog()
        return try await withThrowingTaskGroup(of: RPCError.self, returning: (arrived: Int, errors: [RPCError]).self) { group in
            for _ in 0..<attempts {
                group.addTask {
                    defer { answered.record("answer") }
                    do {
                        try await call()
                        return RPCError(code: .ok, message: "the call succeeded")
                    } catch let error as RPCError {
                        return error
                    }
                }
            }
            let settled = try await eventually(timeout: .seconds(60)) { self.arrived + answered.all.count == attempts }
            let arrived = settled ? self.arrived : -1
            open()
            return (arrived, try await group.reduce(into: []) { $0.append($1) })
        }
    }

    func arrive() async {
        await withCheckedContinuation { continuation in
            let proceed = state.withLock { state in
                state.arrived += 1
                if !state.open { state.waiting.append(continuation) }
                return state.open
            }
            if proceed { continuation.resume() }
        }
    }

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}
