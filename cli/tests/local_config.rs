//! `meshctl local apply` and `delete`: Istio config checked, then copied into (or removed from)
//! the directory the control plane watches.

use std::fs;

use meshctl::local::{
    cli::{apply_config, delete_config},
    state::StateDir,
};
use pretty_assertions::assert_eq;

const VIRTUAL_SERVICE: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                               metadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n  \
                               - route:\n    - destination: {host: reviews, subset: v2}\n";

fn listing(dir: &StateDir) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.user_config_dir())
        .expect("the config dir lists")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn apply_copies_checked_config_and_delete_removes_it() {
    let root = tempfile::tempdir().unwrap();
    let state = StateDir::new(root.path().join("state"));
    fs::create_dir_all(state.user_config_dir()).unwrap();
    let source = root.path().join("networking");
    fs::create_dir_all(&source).unwrap();
    fs::write(source.join("reviews-v2.yaml"), VIRTUAL_SERVICE).unwrap();
    fs::write(source.join("notes.txt"), "not config").unwrap();
    fs::write(source.join(".hidden.yaml"), "not read").unwrap();

    let applied = apply_config(&state, &source).unwrap();
    assert_eq!(applied, [source.join("reviews-v2.yaml")]);
    assert_eq!(listing(&state), ["virtualservice.default.reviews.yaml"]);
    assert_eq!(
        fs::read_to_string(
            state
                .user_config_dir()
                .join("virtualservice.default.reviews.yaml")
        )
        .unwrap(),
        VIRTUAL_SERVICE
    );

    // The same object from another file replaces it, as `kubectl apply` does; other objects
    // of that file are added beside it.
    let other = root.path().join("all.yaml");
    let v1 = VIRTUAL_SERVICE.replace("subset: v2", "subset: v1");
    let ratings = VIRTUAL_SERVICE.replace("reviews", "ratings");
    fs::write(&other, format!("# every service\n---\n{v1}---\n{ratings}")).unwrap();
    apply_config(&state, &other).unwrap();
    assert_eq!(
        listing(&state),
        [
            "virtualservice.default.ratings.yaml",
            "virtualservice.default.reviews.yaml"
        ]
    );
    assert_eq!(
        fs::read_to_string(
            state
                .user_config_dir()
                .join("virtualservice.default.reviews.yaml")
        )
        .unwrap(),
        v1
    );
    delete_config(&state, &other).unwrap();
    apply_config(&state, &source).unwrap();

    let deleted = delete_config(&state, &source.join("reviews-v2.yaml")).unwrap();
    assert_eq!(deleted, [source.join("reviews-v2.yaml")]);
    assert_eq!(listing(&state), Vec::<String>::new());
    assert_eq!(
        delete_config(&state, &source).unwrap_err().to_string(),
        format!("{} was not applied", source.display())
    );
}

#[test]
fn config_with_an_error_is_not_applied() {
    let root = tempfile::tempdir().unwrap();
    let state = StateDir::new(root.path().join("state"));
    fs::create_dir_all(state.user_config_dir()).unwrap();
    let file = root.path().join("broken.yaml");
    fs::write(
        &file,
        VIRTUAL_SERVICE.replace("hosts: [reviews]", "hosts: reviews"),
    )
    .unwrap();
    let error = apply_config(&state, &file).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "{} not applied:\n  {}:1: VirtualService default/reviews: spec.hosts: invalid type: \
             string \"reviews\", expected a sequence",
            file.display(),
            file.display()
        )
    );
    assert_eq!(listing(&state), Vec::<String>::new());
}
