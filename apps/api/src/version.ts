// Postern's version: the API package's, bundled into the compiled build.
import apiPackage from "../package.json";

export const POSTERN_VERSION: string = apiPackage.version;
