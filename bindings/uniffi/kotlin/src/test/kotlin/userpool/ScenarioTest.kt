// Replays every fixtures/scenarios/*.json file through the generated Kotlin binding, with a
// Kotlin delivery (recording, or throwing for `fail_delivery`), a Kotlin clock (`advance`) and
// a Kotlin authenticator (`totp`), checking results against the canonical shapes.
package userpool

import com.fasterxml.jackson.databind.ObjectMapper
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import java.io.File

private val json = ObjectMapper()

/** Numbers compare by value whatever their Kotlin type; everything else as it is. */
private fun normalize(value: Any?): Any? = when (value) {
    is Map<*, *> -> value.entries.associate { (k, v) -> k.toString() to normalize(v) }
    is List<*> -> value.map(::normalize)
    is Number -> if (value is Double || value is Float) value.toDouble() else value.toLong()
    else -> value
}

private fun lookup(value: Any?, path: String): Any? {
    if (path.isEmpty()) return value
    var current = value
    for (part in path.split('.')) {
        current = when (current) {
            is Map<*, *> -> if (current.containsKey(part)) current[part] else return Missing
            is List<*> -> part.toIntOrNull()?.let { current.getOrNull(it) } ?: return Missing
            else -> return Missing
        }
    }
    return current
}

private object Missing

private val SCENARIO_FIELDS = setOf("name", "description", "config", "start_ms", "steps")
private val STEP_FIELDS = setOf("op", "args", "secs", "expect", "expect_error", "save", "expect_messages", "note")

class ScenarioRunner(private val file: File) {
    private val scenario = normalize(json.readValue(file, Map::class.java)) as Map<*, *>
    private val clock = ManualClock((scenario["start_ms"] as Long?) ?: 1_700_000_000_000L)
    private val delivery = RecordingDelivery()
    private val saved = mutableMapOf<String, Any?>()

    fun run() = runBlocking {
        // The fields of the format (core/src/scenario.rs): any other is a typo that would turn
        // a check off, and is refused.
        val unknown = scenario.keys.map { it as String } - SCENARIO_FIELDS
        assertTrue(unknown.isEmpty(), "${file.name}: unknown scenario fields $unknown")
        assertTrue(scenario["steps"] is List<*>, "${file.name}: a scenario needs steps")
        val config = json.writeValueAsString(scenario["config"] ?: emptyMap<String, Any?>())
        UserPool.open(config = config, delivery = delivery, clock = clock).use { pool ->
            for ((index, rawStep) in (scenario["steps"] as List<*>).withIndex()) {
                val step = rawStep as Map<*, *>
                val at = "${file.name} step ${index + 1} (${step["op"]})"
                val unknownStep = step.keys.map { it as String } - STEP_FIELDS
                assertTrue(unknownStep.isEmpty(), "$at: unknown step fields $unknownStep")
                try {
                    runStep(pool, step)
                } catch (e: AssertionError) {
                    throw AssertionError("$at: ${e.message}", e)
                }
            }
        }
    }

    private suspend fun runStep(pool: UserPool, step: Map<*, *>) {
        val op = step["op"] as String
        val before = delivery.messages.size
        var error: AuthException? = null
        var value: Any? = null
        when (op) {
            "advance" -> clock.advanceSecs(step["secs"] as Long)
            "fail_delivery" -> {
                val on = ((step["args"] as Map<*, *>?)?.get("failing") as Boolean?) ?: true
                delivery.failing = if (on) IllegalStateException("the scenario made delivery fail") else null
            }
            "totp" -> {
                val args = resolve(step["args"] ?: emptyMap<String, Any?>()) as Map<*, *>
                val offset = (args["offset_secs"] as Long?) ?: 0L
                value = mapOf("code" to Totp.code(args["secret"] as String, clock.nowMs() / 1000 + offset))
            }
            else -> {
                val args = resolve(step["args"] ?: emptyMap<String, Any?>()) as Map<*, *>
                try {
                    value = normalize(call(pool, op, args))
                } catch (e: AuthException) {
                    error = e
                }
            }
        }
        val delivered = delivery.messages.size - before
        (step["expect_messages"] as Long?)?.let {
            assertEquals(it, delivered.toLong(), "messages delivered")
        }
        val expectError = step["expect_error"] as String?
        if (expectError != null) {
            assertTrue(error != null, "expected $expectError, got success $value")
            assertEquals(expectError, error!!.code, "error code (message: ${error.message})")
            return
        }
        if (error != null) throw AssertionError("unexpected error ${error.code}: ${error.message}")
        val expect = resolve(step["expect"] ?: emptyMap<String, Any?>()) as Map<*, *>
        for ((path, expected) in expect) {
            path as String
            val actual = if (path == "length" || path.endsWith(".length")) {
                (lookup(value, path.removeSuffix("length").removeSuffix(".")) as? List<*>)?.size?.toLong()
            } else {
                lookup(value, path).takeUnless { it === Missing }
            }
            assertEquals(expected, actual, path)
        }
        (step["save"] as String?)?.let { saved[it] = value }
    }

    private fun resolve(value: Any?): Any? = when {
        value is String && value.startsWith("\${") && value.endsWith("}") -> {
            val reference = value.substring(2, value.length - 1)
            if (reference.startsWith("code:")) {
                // DEST#N: the code N messages before the newest to DEST.
                val destination = reference.removePrefix("code:").substringBefore('#')
                val back = reference.substringAfter('#', "0").toInt()
                val codes = delivery.messages.filter { it.destination == destination }
                codes.getOrNull(codes.size - 1 - back)?.code?.reveal()
                    ?: throw AssertionError("no code #$back was delivered to $destination")
            } else {
                val name = reference.substringBefore('.')
                val path = if ('.' in reference) reference.substringAfter('.') else ""
                if (!saved.containsKey(name)) throw AssertionError("nothing saved as $name")
                lookup(saved[name], path).also {
                    if (it === Missing) throw AssertionError("$reference is not in the saved result")
                }
            }
        }
        value is Map<*, *> -> value.entries.associate { (k, v) -> k to resolve(v) }
        value is List<*> -> value.map(::resolve)
        else -> value
    }

    @Suppress("UNCHECKED_CAST")
    private suspend fun call(pool: UserPool, op: String, a: Map<*, *>): Any? {
        fun s(name: String) = a[name] as? String ?: throw AssertionError("argument $name (a string) is missing")
        fun os(name: String) = a[name] as String?
        fun attrs(name: String) = (a[name] as Map<String, String>?) ?: emptyMap()
        fun names(name: String) = (a[name] as List<String>?) ?: emptyList()
        fun limit(name: String) = (a[name] as Long?)?.coerceIn(0, UInt.MAX_VALUE.toLong())?.toUInt()
        fun preference(name: String) = os(name)?.let { MfaPreference.valueOf(it.uppercase()) }
        fun claims(text: String) = json.readValue(text, Map::class.java)
        val c = Canonical
        return when (op) {
            "sign_up" -> c.signUp(pool.signUp(s("username"), s("password"), attrs("attributes")))
            "confirm_sign_up" -> pool.confirmSignUp(s("username"), s("code")).let { null }
            "resend_sign_up_code" -> c.delivery(pool.resendSignUpCode(s("username")))
            "sign_in" -> c.signIn(pool.signIn(s("username"), s("password")))
            "confirm_sign_in" -> c.signIn(pool.confirmSignIn(s("session"), s("answer"), attrs("attributes")))
            "refresh" -> c.tokens(pool.refresh(s("refresh_token")))
            "sign_out" -> pool.signOut(s("refresh_token")).let { null }
            "global_sign_out" -> pool.globalSignOut(s("access_token")).let { null }
            "verify_access_token" -> claims(pool.verifyAccessToken(s("token")))
            "verify_id_token" -> claims(pool.verifyIdToken(s("token"), os("client_id")))
            "jwks" -> claims(pool.jwks())
            "get_user" -> c.user(pool.getUser(s("access_token")))
            "change_password" -> pool.changePassword(s("access_token"), s("old_password"), s("new_password")).let { null }
            "update_user_attributes" ->
                pool.updateUserAttributes(s("access_token"), attrs("attributes")).map(c::attributeUpdate)
            "get_user_attribute_verification_code" ->
                c.delivery(pool.getUserAttributeVerificationCode(s("access_token"), s("attribute")))
            "verify_user_attribute" -> pool.verifyUserAttribute(s("access_token"), s("attribute"), s("code")).let { null }
            "delete_user_attributes" -> pool.deleteUserAttributes(s("access_token"), names("names")).let { null }
            "delete_user" -> pool.deleteUser(s("access_token")).let { null }
            "forgot_password" -> c.delivery(pool.forgotPassword(s("username")))
            "confirm_forgot_password" ->
                pool.confirmForgotPassword(s("username"), s("code"), s("new_password")).let { null }
            "admin_create_user" -> pool.adminCreateUser(
                s("username"), attrs("attributes"), os("temporary_password"), (a["send_invitation"] as Boolean?) ?: true,
            ).let { mapOf("user" to c.user(it.user), "code_delivery" to c.delivery(it.codeDelivery)) }
            "admin_get_user" -> c.user(pool.adminGetUser(s("username")))
            "admin_delete_user" -> pool.adminDeleteUser(s("username")).let { null }
            "admin_disable_user" -> pool.adminDisableUser(s("username")).let { null }
            "admin_enable_user" -> pool.adminEnableUser(s("username")).let { null }
            "admin_confirm_sign_up" -> pool.adminConfirmSignUp(s("username")).let { null }
            "admin_reset_user_password" -> c.delivery(pool.adminResetUserPassword(s("username")))
            "admin_set_user_password" ->
                pool.adminSetUserPassword(s("username"), s("password"), (a["permanent"] as Boolean?) ?: false).let { null }
            "admin_update_user_attributes" -> pool.adminUpdateUserAttributes(s("username"), attrs("attributes")).let { null }
            "admin_delete_user_attributes" -> pool.adminDeleteUserAttributes(s("username"), names("names")).let { null }
            "admin_import_users" -> pool.adminImportUsers(
                (a["users"] as List<Map<String, Any?>>).map {
                    ImportUser(
                        it["username"] as String,
                        (it["attributes"] as Map<String, String>?) ?: emptyMap(),
                        (it["password_hash"] as String?)?.let(::Secret),
                    )
                },
            ).map { mapOf("sub" to it.sub, "code" to it.code) }
            "admin_user_global_sign_out" -> pool.adminUserGlobalSignOut(s("username")).let { null }
            "list_users" -> c.userList(pool.listUsers(os("filter"), limit("limit"), os("pagination_token")))
            "admin_list_user_auth_events" -> pool.adminListUserAuthEvents(s("username"), limit("limit")).map(c::event)
            "rotate_signing_keys" -> pool.rotateSigningKeys().let { null }
            "revoke_signing_keys" -> pool.revokeSigningKeys().let { null }
            "associate_software_token" -> c.totpSetup(
                when {
                    os("access_token") != null && os("session") == null -> pool.associateSoftwareToken(s("access_token"))
                    os("session") != null && os("access_token") == null -> pool.associateSoftwareTokenWithSession(s("session"))
                    else -> throw AssertionError("associate_software_token takes access_token or session")
                },
            )
            "verify_software_token" ->
                pool.verifySoftwareToken(s("access_token"), s("code"), os("friendly_name")).let { null }
            "set_mfa_preference" -> pool.setMfaPreference(
                s("access_token"), preference("totp"), preference("sms"), preference("email"),
            ).let { null }
            "admin_set_user_mfa_preference" -> pool.adminSetUserMfaPreference(
                s("username"), preference("totp"), preference("sms"), preference("email"),
            ).let { null }
            "create_group" -> c.group(pool.createGroup(s("name"), os("description"), limit("precedence")))
            "update_group" -> c.group(pool.updateGroup(s("name"), os("description"), limit("precedence")))
            "get_group" -> c.group(pool.getGroup(s("name")))
            "list_groups" -> c.groupList(pool.listGroups(limit("limit"), os("pagination_token")))
            "delete_group" -> pool.deleteGroup(s("name")).let { null }
            "admin_add_user_to_group" -> pool.adminAddUserToGroup(s("username"), s("group")).let { null }
            "admin_remove_user_from_group" -> pool.adminRemoveUserFromGroup(s("username"), s("group")).let { null }
            "admin_list_groups_for_user" -> pool.adminListGroupsForUser(s("username")).map(c::group)
            "list_users_in_group" ->
                c.userList(pool.listUsersInGroup(s("group"), limit("limit"), os("pagination_token")))
            else -> throw AssertionError("unknown operation $op")
        }
    }
}

class ScenarioTest {
    @TestFactory
    fun everyScenario(): List<DynamicTest> {
        val dir = File(System.getProperty("userpool.fixtures") ?: error("-Duserpool.fixtures is not set"))
        val files = dir.listFiles { f -> f.name.endsWith(".json") }?.sortedBy { it.name }.orEmpty()
        assertTrue(files.size >= 45, "expected every scenario in $dir, found ${files.size}")
        return files.map { file -> DynamicTest.dynamicTest(file.nameWithoutExtension) { ScenarioRunner(file).run() } }
    }
}
