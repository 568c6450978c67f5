//! Response rendering: JSON/XML success and error documents, content types, request ids.

use std::collections::HashSet;

use ecs_domain::error::ErrorCode;
use ecs_wire::{
    codes, new_request_id, render_error, render_success, Format, CONTENT_TYPE_JSON,
    CONTENT_TYPE_XML,
};
use serde_json::{json, Value};

const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

#[test]
fn request_ids_look_like_real_ones() {
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let id = new_request_id();
        assert_eq!(id.len(), 36, "{id}");
        for (i, c) in id.chars().enumerate() {
            if [8, 13, 18, 23].contains(&i) {
                assert_eq!(c, '-', "{id}");
            } else {
                assert!(c.is_ascii_digit() || ('A'..='F').contains(&c), "{id}");
            }
        }
        assert_eq!(&id[14..15], "4", "UUID v4: {id}");
        assert!(seen.insert(id));
    }
}

#[test]
fn json_success() {
    let body = json!({"RequestId": "R-1", "TotalCount": 1, "Instances": {"Instance": [{"InstanceId": "i-1"}]}});
    let resp = render_success("DescribeInstances", Format::Json, &body);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type, "application/json;charset=utf-8");
    assert_eq!(resp.content_type, CONTENT_TYPE_JSON);
    let back: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(back, body);
}

#[test]
fn xml_success_matches_what_the_classic_sdk_received() {
    // The body the classic Python SDK returned from do_action(Format=XML) in the captures.
    let resp = render_success(
        "ModifyInstanceAutoReleaseTime",
        Format::Xml,
        &json!({"RequestId": "TEST-ID"}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type, "text/xml;charset=utf-8");
    assert_eq!(
        resp.body_str(),
        r#"<?xml version="1.0" encoding="UTF-8"?><ModifyInstanceAutoReleaseTimeResponse><RequestId>TEST-ID</RequestId></ModifyInstanceAutoReleaseTimeResponse>"#
    );
}

#[test]
fn xml_success_lists_nesting_and_scalars() {
    // Keys are already in sorted order so the expected text holds whether or not serde_json
    // preserves insertion order.
    let body = json!({
        "InstanceIdSets": {"InstanceIdSet": ["i-1", "i-2"]},
        "Instances": {"Instance": [
            {"Cpu": 2, "DeletionProtection": false, "InstanceId": "i-1",
             "Tags": {"Tag": [{"TagKey": "k", "TagValue": "a<b & \"c\""}]}},
            {"AutoReleaseTime": "", "InstanceId": "i-2", "Memory": 0.5}
        ]},
        "Missing": null,
        "NoItems": {"Item": []},
        "RequestId": "R-1",
        "TotalCount": 2
    });
    let resp = render_success("DescribeInstances", Format::Xml, &body);
    let expected = [
        XML_DECL,
        "<DescribeInstancesResponse>",
        "<InstanceIdSets><InstanceIdSet>i-1</InstanceIdSet><InstanceIdSet>i-2</InstanceIdSet></InstanceIdSets>",
        "<Instances>",
        "<Instance><Cpu>2</Cpu><DeletionProtection>false</DeletionProtection><InstanceId>i-1</InstanceId>",
        "<Tags><Tag><TagKey>k</TagKey><TagValue>a&lt;b &amp; &quot;c&quot;</TagValue></Tag></Tags></Instance>",
        "<Instance><AutoReleaseTime></AutoReleaseTime><InstanceId>i-2</InstanceId><Memory>0.5</Memory></Instance>",
        "</Instances>",
        "<Missing></Missing>",
        "<NoItems></NoItems>",
        "<RequestId>R-1</RequestId>",
        "<TotalCount>2</TotalCount>",
        "</DescribeInstancesResponse>",
    ]
    .concat();
    assert_eq!(resp.body_str(), expected);
    assert_eq!(resp.content_type, CONTENT_TYPE_XML);
}

#[test]
fn json_error() {
    let err = ErrorCode::new(
        403,
        "ChargeTypeViolation",
        "The operation is not permitted due to charge type of the instance.",
    )
    .err();
    let resp = render_error(Format::Json, "REQ-1", "ecs.aliyuncs.com", &err);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.content_type, "application/json;charset=utf-8");
    assert_eq!(
        resp.body_str(),
        concat!(
            r#"{"RequestId":"REQ-1","HostId":"ecs.aliyuncs.com","Code":"ChargeTypeViolation","#,
            r#""Message":"The operation is not permitted due to charge type of the instance.","#,
            r#""Recommend":"https://api.aliyun.com/troubleshoot?q=ChargeTypeViolation&product=Ecs&requestId=REQ-1"}"#
        )
    );
}

#[test]
fn json_error_escapes_the_v3_string_to_sign() {
    let err = codes::signature_does_not_match("ACS3-HMAC-SHA256\nabc\"");
    let resp = render_error(Format::Json, "R", "h", &err);
    assert_eq!(resp.status, 400);
    let back: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(back["Code"], "SignatureDoesNotMatch");
    assert_eq!(
        back["Message"],
        "Specified signature is not matched with our calculation. server string to sign is:ACS3-HMAC-SHA256\nabc\""
    );
    assert_eq!(back.as_object().unwrap().len(), 5);
}

#[test]
fn xml_error() {
    let err = codes::INVALID_ACCESS_KEY_ID_NOT_FOUND.err();
    let resp = render_error(Format::Xml, "REQ-2", "127.0.0.1:8080", &err);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.content_type, "text/xml;charset=utf-8");
    assert_eq!(
        resp.body_str(),
        [
            XML_DECL,
            "<Error><RequestId>REQ-2</RequestId><HostId>127.0.0.1:8080</HostId>",
            "<Code>InvalidAccessKeyId.NotFound</Code><Message>Specified access key is not found.</Message>",
            "<Recommend>https://api.aliyun.com/troubleshoot?q=InvalidAccessKeyId.NotFound&amp;product=Ecs&amp;requestId=REQ-2</Recommend>",
            "</Error>"
        ]
        .concat()
    );
}

#[test]
fn xml_error_escapes_text() {
    let err = ErrorCode::new(400, "InvalidParameter", "").with_message("bad <value> & \"more\"");
    let resp = render_error(Format::Xml, "R", "h", &err);
    assert!(resp
        .body_str()
        .contains("<Message>bad &lt;value&gt; &amp; &quot;more&quot;</Message>"));
}
