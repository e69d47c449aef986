"""The built-in stream of sample travellers: reproducible, well mixed, each case what it claims.

Most tests use small made-up photos (the stream only needs files to put on
chips and before the camera).  One slow test runs the real face verifier on
the installed sample photos, to check that the pairs the stream calls
genuine match and those it calls impostors do not.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egate.biometrics.image import decode_image, read_image_file
from egate.documents.mrz import parse_mrz
from egate.documents.policy import age_on
from hardware.chip import mrz_information
from station.people import travellers as travellers_module
from station.people.passenger_spec import PassengerKind
from station.people.travellers import (
    CHIP_PHOTO_LONG_SIDE,
    DEFAULT_MIX,
    SampleCase,
    SamplePhotos,
    SampleTraveller,
    chip_photo,
    sample_travellers,
)

TODAY = date(2026, 11, 26)
K = SampleCase
# What a correct two-step gate with the default policy makes of each case, and
# what the traveller counts as: in a training scenario's words.
EXPECTATIONS = {
    K.GENUINE: (PassengerKind.GENUINE, "accepted", ()),
    K.PHOTO_SUBSTITUTED: (PassengerKind.DOCUMENT_FRAUD, "rejected", ("CHIP_HASH_MISMATCH",)),
    K.CLONED: (PassengerKind.DOCUMENT_FRAUD, "rejected", ("CHIP_CLONE_SUSPECTED",)),
    K.IMPOSTOR: (PassengerKind.IMPOSTOR, "referred", ("BIOMETRIC_MISMATCH",)),
    K.EXPIRED: (PassengerKind.INELIGIBLE, "rejected", ("EXPIRED",)),
    K.ALTERED_BIRTH_DATE: (PassengerKind.DOCUMENT_FRAUD, "referred", ("CHIP_ACCESS_DENIED",)),
    K.NO_CHIP: (PassengerKind.GENUINE, "referred", ("CHIP_ABSENT",)),
    K.MINOR: (PassengerKind.INELIGIBLE, "referred", ("MINOR",)),
    K.TAILGATED: (PassengerKind.GENUINE, "referred", ("TAILGATING", "OCCUPANCY")),
    K.NO_FACE: (PassengerKind.GENUINE, "referred", ("FACE_NOT_FOUND",)),
}


def write_photo(path: Path, shade: int, size: tuple[int, int] = (120, 90)) -> Path:
    pixels = np.zeros((*size, 3), dtype=np.uint8)
    pixels[:, :] = (shade, 255 - shade, (shade * 7) % 256)
    cv2.imwrite(str(path), pixels)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> SamplePhotos:
    """Three made-up people: one with three photos, two with one each."""
    folder = tmp_path_factory.mktemp("photos")
    files = [
        write_photo(folder / name, shade)
        for name, shade in [
            ("alpha.jpg", 10),
            ("alpha2.jpg", 20),
            ("alpha3.jpg", 30),
            ("beta.jpg", 120),
            ("gamma.jpg", 220),
        ]
    ]
    found = SamplePhotos.from_files(files)
    assert found is not None
    return found


def take(photos: SamplePhotos, count: int, seed: int = 0, **options) -> list[SampleTraveller]:
    stream = sample_travellers(photos, TODAY, np.random.default_rng(seed), **options)
    return list(itertools.islice(stream, count))


def identity_of_chip(photos: SamplePhotos) -> dict[bytes, str]:
    return {
        chip_photo(path): person for person, paths in photos.identities.items() for path in paths
    }


# --- the photos -----------------------------------------------------------------


def test_photos_are_grouped_by_person(tmp_path):
    names = [
        "32bit.png",
        "biden.jpg",
        "obama.jpg",
        "obama2.jpg",
        "obama3.jpg",
        "obama_partial_face.jpg",
        "obama_partial_face2.jpg",
    ]
    paths = [tmp_path / name for name in names] + [Path("/elsewhere/grace_hopper.jpg")]
    photos = SamplePhotos.from_files(paths)
    assert photos is not None
    grouped = {person: [p.name for p in found] for person, found in photos.identities.items()}
    assert grouped == {
        "biden": ["biden.jpg"],
        "obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"],
        "grace_hopper": ["grace_hopper.jpg"],
    }
    assert SamplePhotos.from_files([tmp_path / "32bit.png"]) is None


def test_installed_falls_back_to_matplotlibs_portrait(tmp_path, monkeypatch):
    portrait = write_photo(tmp_path / "grace_hopper.jpg", 50)
    monkeypatch.setattr(travellers_module, "grace_hopper", lambda: portrait)
    # An empty cache: no fetched samples.
    photos = SamplePhotos.installed(tmp_path / "cache")
    assert photos is not None and photos.identities == {"grace_hopper": [portrait]}
    monkeypatch.setattr(travellers_module, "grace_hopper", lambda: None)
    assert SamplePhotos.installed(tmp_path / "cache") is None


def test_a_person_needs_a_photo():
    with pytest.raises(ValueError, match="no photo"):
        SamplePhotos({"someone": []})
    with pytest.raises(ValueError, match="at least one identity"):
        SamplePhotos({})


def test_chip_photos_are_small_jpegs(tmp_path):
    large = write_photo(tmp_path / "large.jpg", 90, size=(1200, 900))
    data = chip_photo(large)
    assert data[:2] == b"\xff\xd8"  # JPEG
    assert max(decode_image(data).shape[:2]) == CHIP_PHOTO_LONG_SIDE
    small = write_photo(tmp_path / "small.jpg", 90, size=(120, 90))
    assert decode_image(chip_photo(small)).shape[:2] == (120, 90)  # never enlarged


# --- the stream -------------------------------------------------------------------


def fingerprint(traveller: SampleTraveller) -> tuple[object, ...]:
    document = traveller.document
    chip = document.chip
    return (
        traveller.label,
        traveller.case,
        document.mrz,
        None if chip is None else (chip.dg1_mrz, chip.dg2_image),
        tuple(document.faces),
        traveller.behaviour,
    )


def test_the_stream_is_reproducible_from_a_seed(photos):
    first = [fingerprint(t) for t in take(photos, 200, seed=7)]
    again = [fingerprint(t) for t in take(photos, 200, seed=7)]
    other = [fingerprint(t) for t in take(photos, 200, seed=8)]
    assert first == again
    assert first != other


def test_labels_are_unique_numbers_and_documents_never_repeat(photos):
    travellers = take(photos, 2000)
    labels = [t.label for t in travellers]
    assert labels[:3] == ["P0001", "P0002", "P0003"]
    assert all(re.fullmatch(r"P\d{4,}", label) for label in labels)
    assert len(set(labels)) == len(labels)
    numbers = [parse_mrz(t.document.mrz, TODAY).fields.document_number for t in travellers]
    assert len(set(numbers)) == len(numbers)


def test_the_default_mix_is_mostly_genuine(photos):
    counts = Counter(t.case for t in take(photos, 2000, seed=3))
    assert set(counts) == set(SampleCase)
    for kind, share in DEFAULT_MIX.items():
        assert counts[kind] / 2000 == pytest.approx(share, abs=0.03), kind
    # Genuine-looking: 70 %, of which 4 % each carry a forged chip (a PA failure, a clone).
    assert DEFAULT_MIX[K.GENUINE] == pytest.approx(0.62)
    assert DEFAULT_MIX[K.PHOTO_SUBSTITUTED] == DEFAULT_MIX[K.CLONED] == pytest.approx(0.04)
    assert sum(DEFAULT_MIX.values()) == pytest.approx(1.0)


def test_a_mix_of_our_own(photos):
    counts = Counter(t.case for t in take(photos, 1000, mix={K.GENUINE: 1, K.MINOR: 3}))
    assert set(counts) == {K.GENUINE, K.MINOR}
    assert counts[K.MINOR] / 1000 == pytest.approx(0.75, abs=0.05)


def test_bad_mixes_and_paces_are_refused(photos):
    with pytest.raises(ValueError, match="0 or more"):
        take(photos, 1, mix={K.GENUINE: -1})
    with pytest.raises(ValueError, match="no kind"):
        take(photos, 1, mix={K.GENUINE: 0})
    with pytest.raises(ValueError, match="pace"):
        take(photos, 1, pace=0)


def test_a_single_person_leaves_impostors_out(photos):
    alone = SamplePhotos({"alpha": photos.identities["alpha"]})
    cases = {t.case for t in take(alone, 1000)}
    assert K.IMPOSTOR not in cases
    assert cases == set(SampleCase) - {K.IMPOSTOR}
    with pytest.raises(ValueError, match="no kind"):
        take(alone, 1, mix={K.IMPOSTOR: 1})


def test_pace_speeds_people_up(photos):
    slow, quick = take(photos, 50), take(photos, 50, pace=0.01)
    for a, b in zip(slow, quick, strict=True):
        assert b.behaviour.present_s == pytest.approx(a.behaviour.present_s * 0.01)
        assert b.behaviour.walk_s == pytest.approx(a.behaviour.walk_s * 0.01)
        assert b.behaviour.patience_s == a.behaviour.patience_s


def check_traveller(traveller: SampleTraveller, photos: SamplePhotos, today: date) -> None:
    """The traveller's document, chip and faces have the properties its case claims."""
    kind, document = traveller.case, traveller.document
    assert (traveller.kind, traveller.expected, traveller.expected_reasons) == EXPECTATIONS[kind]
    assert traveller.passenger.id == traveller.label
    assert traveller.passenger.document is not None
    assert traveller.passenger.document.printed() == document.mrz
    printed = parse_mrz(document.mrz, today, repair=False)
    assert printed.valid, printed.failures
    fields = printed.fields
    assert fields.document_type == "P" and printed.format.value == "TD3"
    assert fields.expiry_date is not None and fields.birth_date is not None
    assert (fields.expiry_date < today) is (kind is K.EXPIRED)
    age = age_on(fields.birth_date.earliest(), today)
    assert age < 12 if kind is K.MINOR else age >= 18
    assert (document.chip is None) is (kind is K.NO_CHIP)
    if document.chip is not None:
        opens = document.chip.opens_with(mrz_information(printed))
        assert opens is (kind is not K.ALTERED_BIRTH_DATE)
    assert traveller.behaviour.tailgater is (kind is K.TAILGATED)
    follower = traveller.follower
    assert (follower is not None) is (kind is K.TAILGATED)
    if follower is not None:
        assert follower.kind is PassengerKind.TAILGATER
        assert follower.behaviour.tailgates == traveller.label
    # Names and numbers stay out of what gets printed.
    assert fields.surname not in repr(traveller)
    assert fields.document_number not in repr(traveller)
    assert fields.surname not in traveller.label
    if kind is K.NO_FACE:
        assert tuple(document.faces) == (None,)
        return
    faces = list(document.faces)
    assert faces and all(isinstance(face, Path) for face in faces)


def test_each_kind_is_what_it_claims(photos):
    chip_owner = identity_of_chip(photos)
    for traveller in take(photos, 2000, seed=11):
        check_traveller(traveller, photos, TODAY)
        document = traveller.document
        if traveller.case in (K.NO_FACE, K.NO_CHIP):
            continue
        assert document.chip is not None and document.chip.dg2_image is not None
        holder = chip_owner[document.chip.dg2_image]
        seen = {
            person
            for face in document.faces
            for person, paths in photos.identities.items()
            if face in paths
        }
        if traveller.case is K.IMPOSTOR:
            assert holder not in seen and len(seen) == 1
        else:
            assert seen == {holder}
            own = photos.identities[holder]
            if len(own) > 1:  # the camera never sees the chip photo itself
                assert all(chip_photo(face) != document.chip.dg2_image for face in document.faces)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**63),
    today=st.dates(min_value=date(2019, 1, 1), max_value=date(2049, 12, 31)),
)
def test_any_seed_and_day_give_sound_documents(photos, seed, today):
    stream = sample_travellers(photos, today, np.random.default_rng(seed))
    for traveller in itertools.islice(stream, 30):
        check_traveller(traveller, photos, today)


def test_the_sample_travellers_print_without_personal_data(photos):
    traveller = take(photos, 1)[0]
    text = repr(traveller)
    assert text.startswith("SampleTraveller(P0001, ")
    assert "redacted" in text


# --- what the face verifier makes of the sample photos ----------------------------


@pytest.mark.slow
def test_genuine_pairs_match_and_impostor_pairs_do_not():
    from egate.biometrics.face import FaceModels
    from egate.biometrics.verifier import Decision, FaceVerifier

    photos = SamplePhotos.installed()
    if photos is None or len(photos.identities) < 2:
        pytest.skip("sample photos of two people or more are not installed (egate samples fetch)")
    # Every (chip photo, live photo) pair the stream can make, from a long run.
    pairs: dict[tuple[bytes, Path], SampleCase] = {}
    for traveller in take(photos, 600, mix={K.GENUINE: 1, K.IMPOSTOR: 1}):
        chip = traveller.document.chip
        assert chip is not None and chip.dg2_image is not None
        for face in traveller.document.faces:
            assert isinstance(face, Path)
            pairs[(chip.dg2_image, face)] = traveller.case
    all_photos = [path for paths in photos.identities.values() for path in paths]
    genuine = {
        (a, b)
        for paths in photos.identities.values()
        for a, b in itertools.product(paths, paths)
        if a != b or len(paths) == 1
    }
    expected = {
        (chip_photo(a), b): K.GENUINE if (a, b) in genuine else K.IMPOSTOR
        for a, b in itertools.product(all_photos, all_photos)
        if (a, b) in genuine or not any(a in p and b in p for p in photos.identities.values())
    }
    assert pairs == expected  # the run met every pair, and no other

    verifier = FaceVerifier.with_models(FaceModels())
    wrong = []
    for (dg2, live), kind in pairs.items():
        result = verifier.verify_photos(decode_image(dg2), read_image_file(live))
        want = Decision.MATCH if kind is K.GENUINE else Decision.NO_MATCH
        if result.decision is not want:
            wrong.append((live.name, kind.name, result.decision.value, result.distance))
    assert wrong == []
