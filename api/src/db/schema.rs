//! Table definitions shared by both backends (portable types only).

diesel::table! {
    write_lock (id) {
        id -> Integer,
        generation -> BigInt,
    }
}

diesel::table! {
    catalog_revisions (revision) {
        revision -> BigInt,
        document -> Text,
        sha256 -> Text,
        source -> Text,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    artifact_tags (artifact_id, tag) {
        artifact_id -> Text,
        tag -> Text,
        digest -> Nullable<Text>,
        actor -> Text,
        registered_at -> Timestamp,
        first_seen_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    artifact_tag_moves (id) {
        id -> BigInt,
        artifact_id -> Text,
        tag -> Text,
        pinned_digest -> Text,
        registry_digest -> Text,
        detected_at -> Timestamp,
    }
}

diesel::table! {
    artifact_syncs (artifact_id) {
        artifact_id -> Text,
        last_attempt_at -> Timestamp,
        last_success_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        registry_tags -> BigInt,
        new_tags -> BigInt,
        moved_tags -> BigInt,
        duration_ms -> BigInt,
    }
}

diesel::table! {
    publish_jobs (id) {
        id -> BigInt,
        cluster -> Text,
        revision -> BigInt,
        target -> Text,
        channel -> Text,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamp,
        digest -> Nullable<Text>,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    clusters (name) {
        name -> Text,
        tier -> Text,
        labels -> Text,
        enabled -> Bool,
        flux_namespace -> Text,
        oci_tag -> Nullable<Text>,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    assignments (cluster, component) {
        cluster -> Text,
        component -> Text,
        enabled -> Bool,
        oci_tag -> Nullable<Text>,
        component_path -> Nullable<Text>,
        reason -> Nullable<Text>,
        author -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    cluster_revisions (cluster, revision) {
        cluster -> Text,
        revision -> BigInt,
        effective -> Text,
        sha256 -> Text,
        catalog_revision -> BigInt,
        actor -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        target -> Text,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
        request_id -> Text,
    }
}

diesel::table! {
    audit_clusters (audit_id, cluster) {
        audit_id -> BigInt,
        cluster -> Text,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        name -> Text,
        token_id -> Text,
        secret_sha256 -> Text,
        role -> Text,
        cluster -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rollouts (id) {
        id -> BigInt,
        kind -> Text,
        artifact -> Text,
        component -> Nullable<Text>,
        oci_tag -> Text,
        component_paths -> Text,
        waves -> Text,
        state -> Text,
        current_step -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        reason -> Nullable<Text>,
        skipped -> Text,
        halted_reason -> Nullable<Text>,
        break_glass -> Nullable<Text>,
    }
}

diesel::table! {
    rollout_steps (rollout, step_index) {
        rollout -> BigInt,
        step_index -> BigInt,
        wave -> BigInt,
        clusters -> Text,
        applied_at -> Nullable<Timestamp>,
        skipped -> Text,
        failed -> Text,
    }
}

diesel::table! {
    rollout_pins (cluster, component) {
        rollout -> BigInt,
        cluster -> Text,
        component -> Text,
        oci_tag -> Nullable<Text>,
        component_path -> Nullable<Text>,
    }
}

diesel::table! {
    rollout_approvals (rollout, wave, actor) {
        rollout -> BigInt,
        wave -> BigInt,
        actor -> Text,
        approved_at -> Timestamp,
    }
}

diesel::table! {
    holds (id) {
        id -> BigInt,
        cluster -> Nullable<Text>,
        component -> Nullable<Text>,
        reason -> Text,
        expires_at -> Nullable<Timestamp>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    observed (cluster, kind, namespace, name) {
        cluster -> Text,
        kind -> Text,
        namespace -> Text,
        name -> Text,
        component -> Nullable<Text>,
        state -> Text,
        reason -> Text,
        message -> Text,
        last_revision -> Nullable<Text>,
        applied_revision -> Nullable<Text>,
        applied_tag -> Nullable<Text>,
        applied_digest -> Nullable<Text>,
        event_at -> Timestamp,
        received_at -> Timestamp,
        applied_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    flux_events (id) {
        id -> BigInt,
        cluster -> Text,
        event_key -> Text,
        kind -> Text,
        namespace -> Text,
        name -> Text,
        component -> Nullable<Text>,
        severity -> Text,
        reason -> Text,
        message -> Text,
        revision -> Nullable<Text>,
        reporting_controller -> Nullable<Text>,
        event_at -> Timestamp,
        received_at -> Timestamp,
    }
}

diesel::table! {
    cluster_event_secrets (cluster) {
        cluster -> Text,
        secret -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    applied_files (kind) {
        kind -> Text,
        sha256 -> Text,
        source -> Text,
        applied_at -> Timestamp,
    }
}

diesel::table! {
    build_evidence (cluster, component, digest) {
        cluster -> Text,
        component -> Text,
        digest -> Text,
        tag -> Nullable<Text>,
        ready_since -> Timestamp,
        ready_until -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    promotions (id) {
        id -> BigInt,
        source -> Text,
        target_tier -> Text,
        components -> Text,
        rollout -> Nullable<BigInt>,
        created_by -> Text,
        created_at -> Timestamp,
        reason -> Nullable<Text>,
        break_glass -> Nullable<Text>,
    }
}

diesel::joinable!(assignments -> clusters (cluster));
diesel::allow_tables_to_appear_in_same_query!(
    write_lock,
    catalog_revisions,
    artifact_tags,
    clusters,
    assignments,
    cluster_revisions,
    audit_log,
    audit_clusters,
    api_tokens,
    rollouts,
    rollout_steps,
    rollout_pins,
    rollout_approvals,
    holds,
    artifact_tag_moves,
    artifact_syncs,
    publish_jobs,
    observed,
    flux_events,
    cluster_event_secrets,
    applied_files,
    build_evidence,
    promotions,
);
